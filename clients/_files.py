"""Reading and writing observation files in record batches, so that a file larger than memory streams through.

Formats by extension: .csv, .parquet/.pq, .arrow/.feather/.ipc (Arrow IPC file; the stream format is read too).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.csv as pcsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from ._parquet_parts import ParallelParquetWriter

__all__ = ["FORMATS", "InputError", "Source", "atomic_output", "file_format", "open_source"]

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow",
           ".ipc": "arrow", ".arrows": "arrow"}

# CSV has no types: these columns are read as what the contract says, the rest as pyarrow infers.
_CSV_TYPES = {
    "patient_id": pa.string(),
    "resp_rate": pa.float64(),
    "spo2": pa.float64(),
    "systolic_bp": pa.float64(),
    "pulse": pa.float64(),
    "temperature": pa.float64(),
    "spo2_scale": pa.float64(),
    "age": pa.float64(),
    "on_oxygen": pa.bool_(),
    "pregnant": pa.bool_(),
    "consciousness": pa.string(),
}


class InputError(Exception):
    """The file cannot be read as asked; the message says what to do."""


def file_format(path: str) -> str:
    if path == "-":
        return "csv"
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise InputError(
            f"cannot tell the format of {path!r} from its extension; use one of {', '.join(sorted(FORMATS))}"
        )
    return FORMATS[ext]


class _CountingFile:
    """A binary file that counts the bytes read from it, for a progress bar over CSV."""

    def __init__(self, f):
        self._f = f
        self.position = 0

    def read(self, n=-1):
        data = self._f.read(n)
        self.position += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._f, name)


@dataclass
class Source:
    batches: Iterator[pa.RecordBatch]
    total: int  # rows (parquet, arrow) or bytes (csv), for progress
    unit: str  # "rows" or "bytes"
    progress: callable  # () -> units done so far, or None when counted by rows


# The risk contract's CSV columns (docs/risk.md): code lists are one field, codes separated by ';'.
RISK_LIST_COLUMNS = ("icd10", "icpc2", "atc", "home_care")
RISK_CSV_TYPES = {
    "patient_id": pa.string(), "sex": pa.string(), "age": pa.float64(), "birth_date": pa.date32(),
    **dict.fromkeys(RISK_LIST_COLUMNS, pa.string()),
    **dict.fromkeys(("admissions_12m", "emergency_visits_12m", "gp_contacts_12m"), pa.float64()),
    **dict.fromkeys(("has_coordinator", "has_individual_plan", "has_followup_team", "lives_alone"), pa.bool_()),
    "iplos": pa.float64(),
}


def split_code_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV code fields ('I50.9;e11.2; J44') as list<string> columns; the codes are kept as written."""
    arrays = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if name in RISK_LIST_COLUMNS and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = pa.compute.split_pattern(pa.compute.fill_null(col, ""), ";")
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def open_source(path: str, batch_size: int, csv_types: dict | None = None) -> Source:
    """Open an input file for streaming. Raises InputError with a message a user can act on."""
    fmt = file_format(path)
    if not os.path.exists(path):
        raise InputError(f"input file {path!r} does not exist")
    try:
        if fmt == "parquet":
            # No pre-buffering: with it, pyarrow's reader kept growing with the file (692 vs 420 MiB at 30M rows).
            f = pq.ParquetFile(path, pre_buffer=False)
            return Source(f.iter_batches(batch_size=batch_size), f.metadata.num_rows, "rows", None)
        if fmt == "arrow":
            return _open_ipc(path)
        raw = open(path, "rb")  # noqa: SIM115 - closed when the reader is exhausted or the process ends
        counting = _CountingFile(raw)
        header = pcsv.open_csv(
            counting,
            read_options=pcsv.ReadOptions(block_size=1 << 22),
            convert_options=pcsv.ConvertOptions(column_types=csv_types or _CSV_TYPES, strings_can_be_null=True),
        )
        return Source(_csv_batches(header, path), os.path.getsize(path), "bytes", lambda: counting.position)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"cannot read {path!r} as {fmt}: {e}") from e


def _csv_batches(reader, path: str) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as e:
            raise InputError(f"{path}: {e}") from e
        yield batch


def _open_ipc(path: str) -> Source:
    source = pa.memory_map(path)  # mapped: counting rows and reading batches touch only what they need
    try:
        reader = ipc.open_file(source)
        n = reader.num_record_batches
        rows = sum(reader.get_batch(i).num_rows for i in range(n))
        return Source((reader.get_batch(i) for i in range(n)), rows, "rows", None)
    except pa.ArrowInvalid:
        source.seek(0)
        return Source(iter(ipc.open_stream(source)), 0, "rows", None)


class _Sink:
    def __init__(self, path: str, fmt: str):
        self.path = path
        self.fmt = fmt
        self._writer = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self.fmt == "arrow":
            # The IPC file format keeps one dictionary per column for the whole file: decode input dictionary
            # columns, whose dictionaries may change from batch to batch (Varde's own are constant).
            batch = _decode_foreign_dictionaries(batch)
        if self._writer is None:
            if self.fmt == "parquet":
                self._writer = ParallelParquetWriter(self.path, batch.schema, threads=_encode_threads(),
                                                     compression="zstd")
            elif self.fmt == "csv":
                batch = _join_lists(batch)
                self._writer = pcsv.CSVWriter(self.path if self.path != "-" else _stdout(), batch.schema)
            else:
                self._writer = ipc.new_file(self.path, batch.schema)
        if self.fmt == "parquet":
            self._writer.write_batch(batch)
        elif self.fmt == "csv":
            self._writer.write(_join_lists(batch))
        else:
            self._writer.write(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _encode_threads() -> int:
    """Threads encoding Parquet row groups: the cores this process may use, at most 4 (each holds a batch)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _join_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV has no lists: a list column is written as one field, its items joined by ';' (as risk input is read)."""
    if not any(pa.types.is_list(t) or pa.types.is_large_list(t) for t in batch.schema.types):
        return batch
    arrays = []
    for col in batch.columns:
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            col = pa.compute.binary_join(col.cast(pa.list_(pa.string())), ";")
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _stdout():
    import sys

    return pa.PythonFile(sys.stdout.buffer, mode="w")


def _decode_foreign_dictionaries(batch: pa.RecordBatch) -> pa.RecordBatch:
    from varde.scoring import RESULT_COLUMNS

    if not any(pa.types.is_dictionary(f.type) and f.name not in RESULT_COLUMNS for f in batch.schema):
        return batch
    arrays = [
        c.dictionary_decode() if pa.types.is_dictionary(c.type) and name not in RESULT_COLUMNS else c
        for name, c in zip(batch.schema.names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


@contextlib.contextmanager
def atomic_output(path: str, background: bool = False):
    """A sink that becomes `path` only when everything was written: no partial file is left on failure. With
    `background`, batches are encoded and written on a thread of their own while the caller goes on."""
    from ._pipeline import BackgroundSink

    fmt = file_format(path)

    def make(target: str):
        sink = _Sink(target, fmt)
        return BackgroundSink(sink, depth=1) if background else sink

    if path == "-":
        sink = make(path)
        yield sink
        sink.close()
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"output directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial", dir=directory)
    os.close(fd)
    sink = make(tmp)
    try:
        yield sink
        sink.close()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(Exception):
            sink.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
