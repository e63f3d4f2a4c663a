"""The `varde` commands that talk to a server: the same output as local scoring, health, push."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from tests.support import assert_same_table, observations
from varde.clients.cli import main

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "observations.csv")


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".arrow"])
def test_score_over_the_network_writes_the_same_file_as_local(server, tmp_path, ext):
    src = tmp_path / "in.parquet"
    pq.write_table(observations(25_000, seed=31), src, row_group_size=7_000)
    local, remote = tmp_path / f"local{ext}", tmp_path / f"remote{ext}"
    assert main(["score", str(src), "-o", str(local), "-q"]) == 0
    assert main(["score", str(src), "-o", str(remote), "-q", "--server", server.address]) == 0
    if ext == ".parquet":
        assert_same_table(pq.read_table(remote), pq.read_table(local))
    else:
        assert remote.read_bytes() == local.read_bytes()


def test_sample_summary_is_the_same_over_the_network(server, capsys):
    assert main(["score", SAMPLE]) == 0
    local = capsys.readouterr().err.split("  in ")[0]
    assert main(["score", SAMPLE, "--server", server.address]) == 0
    remote = capsys.readouterr().err.split("  in ")[0]
    assert local == remote and "scored 14 rows" in remote


def test_score_with_a_missing_column_names_it(server, tmp_path, capsys):
    src = tmp_path / "bad.parquet"
    pq.write_table(observations(100).drop_columns(["spo2"]), src)
    out = tmp_path / "out.parquet"
    assert main(["score", str(src), "-o", str(out), "--server", server.address]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "'spo2' is missing" in err
    assert not out.exists()


def test_score_against_no_server_says_so(tmp_path, capsys):
    assert main(["score", SAMPLE, "--server", "127.0.0.1:1"]) == 2
    assert "UNAVAILABLE" in capsys.readouterr().err


def test_health_and_push(server, capsys):
    assert main(["health", "--server", server.address]) == 0
    assert capsys.readouterr().out.strip() == "SERVING"
    assert main(["health", "--server", "127.0.0.1:1", "--timeout", "1"]) == 1
    capsys.readouterr()
    assert main(["push", "--server", server.address, "patient_id=p1", "resp_rate=22", "spo2=95",
                 "on_oxygen=false", "systolic_bp=118", "pulse=96", "consciousness=A", "temperature=38.4",
                 "observed_at=2026-11-23T10:00:00+01:00"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["total"] == 5 and reply["band"] == "BAND_MEDIUM" and reply["observedAt"] == "2026-11-23T09:00:00Z"


@pytest.mark.parametrize(("arg", "needle"), [("resp_rate", "NAME=VALUE"), ("pulse=fast", "not a number"),
                                             ("on_oxygen=maybe", "true or false"), ("heart_rate=80", "heart_rate")])
def test_push_bad_arguments(server, capsys, arg, needle):
    assert main(["push", "--server", server.address, "patient_id=p1", arg]) == 2
    assert needle in capsys.readouterr().err


def test_readme_service_example_runs(server, capsys):
    import pathlib
    import re

    import pyarrow as pa

    text = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"From Python:\n\n```python\n(.*?)```", text, re.S).group(1)
    table = pa.table({"patient_id": ["p1"], "resp_rate": [22], "spo2": [94], "on_oxygen": [False],
                      "systolic_bp": [112], "pulse": [96], "consciousness": ["A"], "temperature": [38.2]})
    code = block.replace("127.0.0.1:50051", server.address)
    exec(compile(code, "README.md", "exec"), {"table": table})
    assert capsys.readouterr().out.split() == ["5", "4"]
