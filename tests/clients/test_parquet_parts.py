"""The Parquet writer that encodes row groups on threads and splices them into one file: what it writes must read
back as the same table as pyarrow's own writer gives, through pyarrow and through readers that parse the footer
themselves (DuckDB, Polars), with every row group where its offsets say."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from varde.clients._parquet_parts import ParallelParquetWriter, _decode, _encode, _split


def _table(n: int, seed: int = 0) -> pa.Table:
    """Every kind of column a scored file holds: strings with nulls, a UTC timestamp, int8 with nulls, dictionary
    strings, booleans, floats, a list of strings."""
    ids = [None if i % 17 == 0 else f"p{(i * 7 + seed) % 1000}" for i in range(n)]
    when = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i) for i in range(n)]
    return pa.table({
        "patient_id": pa.array(ids, pa.string()),
        "observed_at": pa.array(when, pa.timestamp("us", tz="UTC")),
        "score": pa.array([None if i % 5 == 0 else (i + seed) % 4 for i in range(n)], pa.int8()),
        "band": pa.array([("LOW", "HIGH", None)[i % 3] for i in range(n)]).dictionary_encode(),
        "red": pa.array([None if i % 11 == 0 else i % 2 == 0 for i in range(n)], pa.bool_()),
        "temperature": pa.array([36.0 + (i % 50) / 10 for i in range(n)], pa.float32()),
        "codes": pa.array([None if i % 13 == 0 else [f"E{i % 90:02d}", "I10"][: i % 3] for i in range(n)],
                          pa.list_(pa.string())),
    })


def _write(path, table: pa.Table, chunk: int, threads: int = 2, **options) -> None:
    with ParallelParquetWriter(str(path), table.schema, threads=threads, **options) as w:
        for batch in table.to_batches(max_chunksize=chunk):
            w.write_batch(batch)


def _serial(path, table: pa.Table, chunk: int, **options) -> None:
    with pq.ParquetWriter(str(path), table.schema, **options) as w:
        for batch in table.to_batches(max_chunksize=chunk):
            w.write_batch(batch)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_reads_back_as_pyarrows_own_writer_gives(tmp_path, threads):
    table = _table(5_000)
    _write(tmp_path / "p.parquet", table, 700, threads, compression="zstd")
    _serial(tmp_path / "s.parquet", table, 700, compression="zstd")
    ours, theirs = pq.read_table(tmp_path / "p.parquet"), pq.read_table(tmp_path / "s.parquet")
    assert ours.equals(theirs)
    assert ours.schema.equals(theirs.schema, check_metadata=True)  # the Arrow schema (dictionary, tz) kept
    meta = pq.ParquetFile(tmp_path / "p.parquet").metadata
    assert meta.num_rows == 5_000
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [700] * 7 + [100]


def test_every_row_group_lies_where_its_offsets_say(tmp_path):
    table = _table(3_000, seed=3)
    _write(tmp_path / "p.parquet", table, 250, compression="snappy")
    f = pq.ParquetFile(tmp_path / "p.parquet")
    for i, batch in enumerate(table.to_batches(max_chunksize=250)):
        assert f.read_row_group(i).equals(pa.Table.from_batches([batch])), f"row group {i}"
        rg = f.metadata.row_group(i)
        for j in range(rg.num_columns):
            col = rg.column(j)
            assert 4 <= col.data_page_offset < (tmp_path / "p.parquet").stat().st_size
    footer = _decode(_split(pa.py_buffer((tmp_path / "p.parquet").read_bytes()))[1])
    groups = next(value for fid, _, value in footer if fid == 4)[1]
    ordinals = [next((v for fid, _, v in rg if fid == 7), None) for rg in groups]
    assert ordinals in ([None] * 12, list(range(12)))  # renumbered across the parts, when the writer sets them


def test_readers_that_parse_the_footer_themselves_agree(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    pl = pytest.importorskip("polars")
    table = _table(4_000, seed=5).drop_columns(["codes"])
    _write(tmp_path / "p.parquet", table, 300, compression="zstd")
    _serial(tmp_path / "s.parquet", table, 300, compression="zstd")
    query = ("select count(*), count(patient_id), sum(score), count(distinct patient_id), sum(temperature), "
             "max(observed_at), count(*) filter (where red) from '{}'")
    assert (duckdb.sql(query.format(tmp_path / "p.parquet")).fetchall()
            == duckdb.sql(query.format(tmp_path / "s.parquet")).fetchall())
    assert pl.read_parquet(tmp_path / "p.parquet").equals(pl.read_parquet(tmp_path / "s.parquet"))


@pytest.mark.parametrize("option", ["write_page_index", "encryption_properties"])
def test_what_cannot_be_spliced_is_refused_up_front(tmp_path, option):
    """A part's offset index holds file positions inside the part's body, and an encrypted footer cannot be read:
    neither would come out right, so neither is accepted."""
    with pytest.raises(ValueError, match=option):
        ParallelParquetWriter(str(tmp_path / "x.parquet"), _table(1).schema, **{option: True})


def test_nothing_written_gives_an_empty_file_with_the_schema(tmp_path):
    schema = _table(1).schema
    with ParallelParquetWriter(str(tmp_path / "e.parquet"), schema):
        pass
    back = pq.read_table(tmp_path / "e.parquet")
    assert back.num_rows == 0
    assert back.schema.equals(schema)


def test_a_batch_of_another_schema_is_refused(tmp_path):
    with ParallelParquetWriter(str(tmp_path / "x.parquet"), _table(1).schema) as w, \
            pytest.raises(ValueError, match="schema differs"):
        w.write_batch(pa.record_batch({"other": [1]}))


def test_an_encoding_error_reaches_the_caller(tmp_path):
    """From write_batch or from close, whichever first sees the part fail; either way close() releases the file
    and the threads, and a later close() does nothing."""
    w = ParallelParquetWriter(str(tmp_path / "x.parquet"), _table(1).schema, compression="no-such-codec")
    errors = []
    for step in (lambda: w.write_batch(_table(10).to_batches()[0]), w.close):
        try:
            step()
        except Exception as e:  # noqa: BLE001 (pyarrow raises its own ArrowException)
            errors.append(str(e))
    assert errors and all("compression" in e.lower() for e in errors)
    if len(errors) == 1 and not w._file.closed:  # write_batch saw it; close must still release everything
        with pytest.raises(Exception, match="(?i)compression"):
            w.close()
    assert w._file.closed
    w.close()


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 300), st.integers(1, 120), st.sampled_from(["none", "zstd", "snappy"]),
       st.booleans())
def test_footer_codec_gives_back_pyarrows_own_bytes(n, chunk, codec, stats):
    """Decoding a footer pyarrow wrote and encoding it again gives the same bytes (Thrift's compact protocol is
    canonical here: short field headers and list headers wherever they fit)."""
    sink = pa.BufferOutputStream()
    table = _table(n, seed=n)
    with pq.ParquetWriter(sink, table.schema, compression=codec, write_statistics=stats) as w:
        for batch in table.to_batches(max_chunksize=chunk):
            w.write_batch(batch)
    _, footer = _split(sink.getvalue())
    assert _encode(_decode(footer)) == footer
