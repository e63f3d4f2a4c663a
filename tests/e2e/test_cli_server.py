"""The `varde` commands that talk to a server: the same output as local scoring, health, push."""

from __future__ import annotations

import json
import os

import pyarrow.csv  # noqa: F401  (pa.csv)
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
                 "observed_at=2026-11-23T10:00:00+01:00", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["total"] == 5 and reply["band"] == "BAND_MEDIUM" and reply["observedAt"] == "2026-11-23T09:00:00Z"
    assert main(["push", "--server", server.address, "--patient", "p-nurse", "--at", "2026-11-23T11:00+01:00",
                 "--device", "app-3", "resp_rate=22", "spo2=95", "pulse=96"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("p-nurse: NEWS2 4 LOW, monitor 4-6-hourly") and "partial: missing" in text
    assert "sub-scores: resp_rate 2, spo2 1, pulse 1" in text


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


def test_flags_commands_over_tls_with_tokens_and_resubmitting_a_file_raises_nothing_twice(tmp_path, capsys):
    import pyarrow as pa

    from tests.server.secured import Secured

    secured = Secured()
    try:
        tokens = {}
        for name, role, hpr in (("journal", "journal", None), ("kari", "coordinator", "1111111"),
                                ("ola", "coordinator", "2222222")):
            tokens[name] = tmp_path / f"{name}.jwt"
            tokens[name].write_text(secured.token(role, hpr=hpr, client_id=f"client-{name}"))

        def as_(name):
            return ["--server", secured.address, "--tls-ca", str(secured.pki.ca_path),
                    "--tls-cert", str(secured.certs["device"].cert_path),
                    "--tls-key", str(secured.certs["device"].key_path), "--token-file", str(tokens[name])]

        src = tmp_path / "ward.csv"
        calm = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70,
                "consciousness": "A", "temperature": 37.0}
        rows = [{"patient_id": "cli-p1", **calm, "resp_rate": 26, "spo2": 91, "pulse": 135},
                {"patient_id": "cli-p2", **calm}]
        pa.csv.write_csv(pa.Table.from_pylist(rows), src)
        for _ in range(2):
            assert main(["score", str(src), "-q", *as_("journal")]) == 0
        assert main(["flags", "list", "--patient", "cli-p1", "--json", *as_("kari")]) == 0
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert {f["kind"] for f in listed} == {"NEWS2_HIGH", "NEWS2_RED"}
        assert all(f["occurrences"] == "1" for f in listed)  # the second run of the same file raised nothing
        assert {f["source"] for f in listed} == {"client:client-journal"}  # the token's client, not a typed name
        high = next(f for f in listed if f["kind"] == "NEWS2_HIGH")

        assert main(["flags", "claim", high["id"], *as_("kari")]) == 0
        assert "CLAIMED by hpr:1111111" in capsys.readouterr().out
        assert main(["flags", "claim", high["id"], *as_("ola")]) == 2
        assert "claimed by 'hpr:1111111'" in capsys.readouterr().err
        with pytest.raises(SystemExit):  # argparse: --outcome is required
            main(["flags", "resolve", high["id"], "--note", "GP visited", *as_("kari")])
        assert "--outcome" in capsys.readouterr().err
        assert main(["flags", "resolve", high["id"], "--outcome", "visited", "--note", "GP visited",
                     *as_("kari")]) == 0
        assert "RESOLVED" in capsys.readouterr().out
        assert main(["flags", "claim", *as_("kari")]) == 2
        assert "ID or --next" in capsys.readouterr().err
        # a journal system may score, not read the queue
        assert main(["flags", "list", *as_("journal")]) == 2
        assert "needs role coordinator or operator; you have journal" in capsys.readouterr().err
    finally:
        secured.stop()


def test_big_dictionaries_are_cut_to_each_request_and_the_result_is_the_same(server):
    import numpy as np
    import pyarrow as pa

    from varde.clients.client import _compact
    from varde.scoring import score_news2

    table = observations(30_000, seed=41)
    ids = pa.array([None if i % 97 == 0 else f"p{i % 5000:05d}" for i in range(table.num_rows)]).dictionary_encode()
    table = table.set_column(0, "patient_id", ids)
    chunk = table.to_batches()[0].slice(1000, 2000)
    compacted = _compact(chunk)
    assert len(compacted.column(0).dictionary) < len(chunk.column(0).dictionary)
    assert compacted.column(0).to_pylist() == chunk.column(0).to_pylist()
    assert np.all(np.asarray(compacted.column(0).is_valid()) == np.asarray(chunk.column(0).is_valid()))
    with server.client(chunk_bytes=64 * 1024) as c:
        remote = c.score(table)
    local = score_news2(table)
    assert remote.column("patient_id").to_pylist() == local.column("patient_id").to_pylist()
    assert_same_table(remote.drop_columns(["patient_id"]), local.drop_columns(["patient_id"]))
