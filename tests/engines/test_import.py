"""`varde score --engine local` on a folder, then `varde flags import` of its findings into a real server's queue:
the flags are raised once, however often the import runs."""

from __future__ import annotations

from collections import Counter

from tests.engines.dataset import read_sorted, write_dataset
from tests.support import Running
from varde.clients.cli import main


def test_findings_are_imported_once_however_often_the_import_runs(tmp_path, capsys):
    write_dataset(str(tmp_path / "in"), rows=20_000, files=4)
    assert main(["score", "--engine", "local", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "20,000 rows in 4 file(s) on local" in err and "varde flags import" in err
    findings = read_sorted(str(tmp_path / "out-findings"))
    assert findings.num_rows > 0
    running = Running()
    try:
        args = ["flags", "import", str(tmp_path / "out-findings"), "--server", running.address]
        assert main(args) == 0
        first = capsys.readouterr().err
        with running.client() as c:
            flags = c.list_flags(limit=10_000)
        per = Counter((f.patient_id, f.kind) for f in flags)
        assert flags and max(per.values()) == 1
        patients = set(findings.column("patient_id").to_pylist())
        assert {f.patient_id for f in flags} <= patients
        assert main(args) == 0
        second = capsys.readouterr().err
        assert " 0 flag(s) raised, 0 updated" in second and "already imported" in second, (first, second)
        with running.client() as c:
            assert len(c.list_flags(limit=10_000)) == len(flags)
    finally:
        running.stop()


def test_the_engine_needs_a_folder_and_an_output(tmp_path, capsys):
    assert main(["score", "--engine", "local", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "no .parquet files under" in capsys.readouterr().err
    assert main(["score", "--engine", "local", str(tmp_path)]) == 2
    assert "--engine needs -o OUTPUT_DIR" in capsys.readouterr().err
