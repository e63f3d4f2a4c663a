"""`varde score` end to end on real files, through the installed entry point's main()."""

import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from varde.clients.cli import main
from varde.scoring import score_news2

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "observations.csv")


def _table(n=50):
    return pa.table(
        {
            "patient_id": [f"p{i % 7}" for i in range(n)],
            "resp_rate": pa.array([(i * 7) % 40 + 5 for i in range(n)], pa.int16()),
            "spo2": pa.array([85 + i % 16 for i in range(n)], pa.float32()),
            "on_oxygen": [i % 5 == 0 for i in range(n)],
            "systolic_bp": [80 + (i * 13) % 160 for i in range(n)],
            "pulse": [35 + (i * 11) % 110 for i in range(n)],
            "consciousness": ["A" if i % 9 else "V" for i in range(n)],
            "temperature": pa.array([34.5 + (i % 60) / 10 for i in range(n)], pa.float64()),
            "note": [f"n{i}" for i in range(n)],
        }
    )


def test_sample_csv_to_parquet_matches_library(tmp_path, capsys):
    out = tmp_path / "scored.parquet"
    assert main(["score", SAMPLE, "-o", str(out)]) == 0
    got = pq.read_table(out)
    expected = score_news2(pcsv.read_csv(SAMPLE, convert_options=pcsv.ConvertOptions(
        column_types={"spo2_scale": pa.float64(), "age": pa.float64()})))
    assert got.column("news2_total").to_pylist() == expected.column("news2_total").to_pylist()
    assert got.column("reject_reason").to_pylist() == expected.column("reject_reason").to_pylist()
    assert got.column("ward").to_pylist()[0] == "home-care north"  # extra columns pass through
    err = capsys.readouterr().err
    assert "scored 14 rows" in err
    assert "TEMPERATURE_LIKELY_FAHRENHEIT" in err


@pytest.mark.parametrize("ext_in", [".parquet", ".arrow", ".csv"])
@pytest.mark.parametrize("ext_out", [".parquet", ".arrow", ".csv"])
def test_formats_round_trip(tmp_path, ext_in, ext_out):
    table = _table()
    src = tmp_path / f"in{ext_in}"
    if ext_in == ".parquet":
        pq.write_table(table, src, row_group_size=16)
    elif ext_in == ".arrow":
        with ipc.new_file(src, table.schema) as w:
            for b in table.to_batches(max_chunksize=16):
                w.write(b)
    else:
        pcsv.write_csv(table, src)
    dst = tmp_path / f"out{ext_out}"
    assert main(["score", str(src), "-o", str(dst), "--batch-size", "16", "-q"]) == 0
    if ext_out == ".parquet":
        got = pq.read_table(dst)
    elif ext_out == ".arrow":
        got = ipc.open_file(dst).read_all()
    else:
        got = pcsv.read_csv(dst)
    expected = score_news2(table)
    assert got.num_rows == table.num_rows
    assert got.column("news2_total").to_pylist() == expected.column("news2_total").to_pylist()
    assert [str(v) for v in got.column("news2_band").to_pylist()] == [
        str(v) for v in expected.column("news2_band").to_pylist()
    ]


def test_missing_column_names_it_and_leaves_no_file(tmp_path, capsys):
    table = _table().drop_columns(["pulse"]).append_column("heart_rate", pa.array([70] * 50))
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    dst = tmp_path / "out.parquet"
    assert main(["score", str(src), "-o", str(dst)]) == 2
    err = capsys.readouterr().err
    assert "'pulse'" in err
    assert "heart_rate" in err  # the hint to rename
    assert os.listdir(tmp_path) == ["in.parquet"]


def test_truncated_parquet_is_a_clear_error(tmp_path, capsys):
    src = tmp_path / "in.parquet"
    pq.write_table(_table(), src)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    assert main(["score", str(src), "-o", str(tmp_path / "o.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["in.parquet"]


def test_unknown_extension_and_missing_file(tmp_path, capsys):
    assert main(["score", str(tmp_path / "x.xlsx")]) == 2
    assert "extension" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "nope.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_csv_to_stdout_via_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "varde", "score", SAMPLE, "-o", "-", "-q"], capture_output=True, text=True,
        check=True,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 15
    assert lines[0].split(",")[-1] == '"reject_reason"'
    assert '"MEDIUM"' in lines[2]


def test_help_teaches():
    proc = subprocess.run([sys.executable, "-m", "varde", "score", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "Required columns" in proc.stdout


def test_progress_bar_when_asked(tmp_path, capsys):
    src = tmp_path / "in.parquet"
    pq.write_table(_table(), src)
    assert main(["score", str(src), "--progress", "-q"]) == 0
    assert "100.0%" in capsys.readouterr().err


def test_arrow_stream_input(tmp_path):
    table = _table()
    src = tmp_path / "in.arrows"
    with ipc.new_stream(src, table.schema) as w:
        for b in table.to_batches(max_chunksize=16):
            w.write(b)
    dst = tmp_path / "out.parquet"
    assert main(["score", str(src), "-o", str(dst), "-q"]) == 0
    assert pq.read_table(dst).column("news2_total").to_pylist() == score_news2(table).column("news2_total").to_pylist()


def test_truncated_arrow_stream_fails_whole(tmp_path, capsys):
    table = _table(5000)
    src = tmp_path / "in.arrows"
    with ipc.new_stream(src, table.schema) as w:
        for b in table.to_batches(max_chunksize=1000):
            w.write(b)
    data = src.read_bytes()
    src.write_bytes(data[: int(len(data) * 0.7)])
    assert main(["score", str(src), "-o", str(tmp_path / "out.parquet")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["in.arrows"]


def test_wrong_type_column_names_it(tmp_path, capsys):
    table = _table().set_column(3, "on_oxygen", pa.array([[1]] * 50))
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    assert main(["score", str(src)]) == 2
    assert "'on_oxygen'" in capsys.readouterr().err
