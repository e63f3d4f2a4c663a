"""No health data in a log line or a metric label: a real `varde serve` process at DEBUG, with tokens, taken
through every path a request can go (good, bad row, bad request, bad token, wrong role, malformed Arrow), then
everything it wrote to stderr and stdout and the whole metrics page searched for what went in."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pytest

from tests.security_support import TokenIssuer
from tests.support import free_ports
from varde._proto.varde.v1 import flags_pb2, flags_pb2_grpc, scoring_pb2, scoring_pb2_grpc
from varde.clients.client import VardeClient, VardeError

# Patient ids: an 11-digit national identity number, a D-number (first digit + 4) and a free-text id with a name.
FNR, DNR, NAMED = "13097248022", "53097248016", "pasient-Ågot-Nordmann"
PATIENTS = (FNR, DNR, NAMED)
# The ASCII part of the free-text id and of the note: found however a log line escapes "Å" (\xc5, \u00c5, \303\205).
NAMES = ("Nordmann", "Kvalheim")
NOTE = "Ringte Ågot Nordmann kl. 14; fastlege Bjørnstjerne Kvalheim varslet, hjemmesykepleien kommer i kveld"
CODES = ("I50.9", "C78.0", "C07AB02", "C03CA01", "428.0")  # the ICD-10 and ATC codes of the risk extract
HPR = {"kari": "1111111", "ola": "2222222", "journal": "3333333"}
UNIT = "974600951"

# NEWS2 13 (HIGH, red scores): every parameter scores, so flags are raised for the coordinators to work.
VITALS = {"resp_rate": 27, "spo2": 89, "on_oxygen": False, "systolic_bp": 93, "pulse": 137, "consciousness": "A",
          "temperature": 39.7}
FAHRENHEIT = 103.9  # a temperature out of range (Fahrenheit): the row is rejected, not an error
# How the clinical values are searched for. A number can turn up in a log line by chance: in the timestamp
# ("20:39:07,137"), a port, a thread id, a C-core source line ("server.cc:93]"), a duration. So:
#  - each line's timestamp / C-core prefix is cut off before any number is looked for, and a number must stand
#    alone (no digit or '.' next to it: 41379, 1.37 and 0.0137 are not 137);
#  - standing alone, only the values nothing else in this scenario prints are searched for: "137" (pulse), "39.7"
#    (temperature) and "103.9" (the rejected temperature): three-digit or decimal, not a port (5 digits here), not
#    a bucket, not a count of anything the server logs;
#  - the two-digit ones (27, 89, 93) are too common to search for alone (a day of the month, a line number); they
#    are searched for after a parameter's name ("pulse: 137", "'spo2': 89.0", "systolic_bp=93"), as a dump of a
#    request, a row or a message would show them. Every value also counts on the metrics page, in any label.
ALONE = ("137", "39.7", "103.9")
VALUES = {name: value for name, value in VITALS.items() if isinstance(value, (int, float))
          and not isinstance(value, bool)} | {"temperature_f": FAHRENHEIT}
WHEN = dt.datetime(2026, 11, 23, 9, 5, tzinfo=dt.UTC)

_PYTHON_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
_CORE_PREFIX = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\] ")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')



def _start(tmp_path: Path, port: int, metrics_port: int, config: Path) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / "server.stdout", tmp_path / "server.stderr"
    # GRPC_VERBOSITY=debug: gRPC's C core says what it would say to an operator debugging (it writes to stderr
    # too). GRPC_TRACE stays off: tracing the wire is a deliberate act, not a log level.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRPC_VERBOSITY": "debug"}
    env = {k: v for k, v in env.items() if not k.startswith("VARDE_") and k != "GRPC_TRACE"}
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "varde", "serve", "--address", f"127.0.0.1:{port}", "--metrics-port",
             str(metrics_port), "--queue", str(tmp_path / "queue.sqlite3"), "--log-level", "DEBUG",
             "--auth-config", str(config)], stdout=stdout, stderr=stderr, env=env)
    with VardeClient(f"127.0.0.1:{port}", retries=0, timeout=5) as c:  # health is open without a credential
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, err.read_text(errors="replace")
            try:
                if c.health() == "SERVING":
                    return proc, out, err
            except VardeError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write(table)
    return sink.getvalue().to_pybytes()


def _scenario(port: int, tokens: dict[str, str], forged: str) -> None:
    address = f"127.0.0.1:{port}"

    def client(who: str) -> VardeClient:
        return VardeClient(address, token=tokens[who], timeout=30, retries=0)

    def bearer(who: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {tokens[who]}")]

    observed = [{"patient_id": p, "observed_at": WHEN, **VITALS} for p in PATIENTS]
    with client("journal") as journal, client("device") as device, client("kari") as kari, \
            client("ola") as ola, client("device") as wrong_role:
        # a hospital batch: three patients, and a bad row (Fahrenheit) that comes back with its reject_reason
        rows = [*observed, {"patient_id": FNR, "observed_at": WHEN, **VITALS, "temperature": FAHRENHEIT}]
        scored = journal.score(pa.Table.from_pylist(rows), batch_id="ward-7")
        assert scored.column("reject_reason").to_pylist()[:3] == [None] * 3
        assert scored.column("reject_reason").to_pylist()[3]

        # devices: a push, a stream, and a push with a value out of range (scored as rejected)
        assert device.push(observed[0]).total == 13
        streamed = list(device.stream([{**o, "observed_at": WHEN + dt.timedelta(minutes=5)} for o in observed]))
        assert [a.patient_id for a in streamed] == list(PATIENTS)
        assert device.push({**observed[1], "temperature": FAHRENHEIT}).reject_reason

        # GP journal extracts: complex-needs risk with ICD-10 and ATC codes (one malformed)
        extract = pa.table({
            "patient_id": list(PATIENTS),
            "age": pa.array([88, 50, 91], pa.int16()),
            "icd10": pa.array([["I50.9", "C78.0"], ["428.0"], ["F03", "I50"]], pa.list_(pa.string())),
            "atc": pa.array([["C07AB02", "C03CA01"], None, []], pa.list_(pa.string())),
            "admissions_12m": [3, 0, 0],
            "has_coordinator": [False, True, None],
        })
        assert journal.score_patients(extract, batch_id="gp-1").num_rows == 3

        # coordinators: list, watch, claim (and a second coordinator refused it), resolve with a note
        flags = kari.list_flags(patient_id=FNR)
        assert flags and all(f.patient_id == FNR for f in flags)
        with grpc.insecure_channel(address) as ch:
            watch = flags_pb2_grpc.FlagsStub(ch).WatchFlags(
                flags_pb2.WatchRequest(filter=flags_pb2.FlagFilter(patient_id=FNR)), timeout=30,
                metadata=bearer("kari"))
            try:
                events = []
                for event in watch:
                    events.append(event)
                    if event.type == flags_pb2.FlagEvent.CAUGHT_UP:
                        break
                assert any(e.flag.patient_id == FNR for e in events)
                target = flags[0].id
                assert kari.claim(target).claimed_by == f"hpr:{HPR['kari']}"
                with pytest.raises(VardeError) as held:
                    ola.claim(target)
                assert held.value.code.name == "FAILED_PRECONDITION"
                resolved = kari.resolve(target, "VISITED", NOTE)
                assert resolved.resolution_note == NOTE
                seen = set()
                for event in watch:
                    seen.add(event.type)
                    if flags_pb2.FlagEvent.RESOLVED in seen:
                        break
                assert flags_pb2.FlagEvent.CLAIMED in seen
            finally:
                watch.cancel()

        # refused calls: a bad token, a forged one, the wrong role
        for token in ("not-a-token-" + FNR, forged):
            with VardeClient(address, token=token, timeout=30, retries=0) as bad, pytest.raises(VardeError) as e:
                bad.list_flags(patient_id=FNR)
            assert e.value.code.name == "UNAUTHENTICATED"
        with pytest.raises(VardeError) as e:
            wrong_role.list_flags(patient_id=FNR)
        assert e.value.code.name == "PERMISSION_DENIED"
        with pytest.raises(VardeError) as e:
            journal.push(observed[2])
        assert e.value.code.name == "PERMISSION_DENIED"

        # bad requests: an Arrow IPC stream cut short and a byte flipped, and a batch without its columns
        whole = _ipc(pa.Table.from_pylist(observed))
        broken = [whole[: len(whole) // 2], b"\xff\xff\xff\xff" + whole[8:], NAMED.encode() * 10]
        with grpc.insecure_channel(address) as ch:
            stub = scoring_pb2_grpc.ScoringStub(ch)
            for i, data in enumerate(broken):
                with pytest.raises(grpc.RpcError) as e:
                    list(stub.ScoreBatches(iter([scoring_pb2.ArrowBatch(batch_id=f"broken-{i}", arrow_ipc=data)]),
                                           timeout=30, metadata=bearer("journal")))
                assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
            partial = pa.table({"patient_id": list(PATIENTS), "pulse": [137] * 3})
            with pytest.raises(grpc.RpcError) as e:
                list(stub.ScoreBatches(iter([scoring_pb2.ArrowBatch(batch_id="partial", arrow_ipc=_ipc(partial))]),
                                       timeout=30, metadata=bearer("journal")))
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value


def _message(line: str) -> str:
    """A log line without its timestamp (Python logging) or its C-core prefix (time, thread, file:line)."""
    return _CORE_PREFIX.sub("", _PYTHON_PREFIX.sub("", line))


def _metric_samples(page: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in page.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"unparsed metrics line {line!r}"
        out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def _decimal(value) -> str:
    """A pattern for `value` as a program would print it: 137, 137.0, 39.7, 39.70, or as a float32 (39.70000076...)."""
    number = float(value)
    if number.is_integer():
        return rf"{int(number)}(?:\.0+)?"
    return f"(?:{re.escape(repr(number))}0*|{re.escape(repr(float(np.float32(number))))})"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def test_no_patient_value_token_or_hpr_number_in_logs_or_metric_labels(tmp_path):
    issuer = TokenIssuer()
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    config = tmp_path / "auth.toml"
    config.write_text(f'[tokens]\nissuer = "{issuer.issuer}"\naudience = "varde-api"\njwks = "{jwks}"\n'
                      'scheme = "Bearer"\n[tokens.scopes]\n"varde/coordinator" = "coordinator"\n'
                      '"varde/device" = "device"\n"varde/journal" = "journal"\n')
    tokens = {
        "kari": issuer.token(hpr_number=HPR["kari"], orgnr_parent=UNIT),
        "ola": issuer.token(hpr_number=HPR["ola"], orgnr_parent=UNIT),
        "journal": issuer.token(scopes=("varde/journal",), hpr_number=HPR["journal"], orgnr_parent=UNIT),
        "device": issuer.token(scopes=("varde/device",), hpr_number=None, orgnr_parent=UNIT),
    }
    forged = TokenIssuer().token(hpr_number=HPR["kari"], orgnr_parent=UNIT)  # right kid, someone else's key
    port, metrics_port = free_ports(2)
    proc, out, err = _start(tmp_path, port, metrics_port, config)
    try:
        _scenario(port, tokens, forged)
        page = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.read_text(errors="replace")[-4000:]
    log = err.read_text(encoding="utf-8", errors="replace") + out.read_text(encoding="utf-8", errors="replace")
    lines = log.splitlines()

    # the log and the page are real: the test could fail
    assert any(f"listening on 127.0.0.1:{port}" in line for line in lines), log[-4000:]
    assert any("kernels ready; serving" in line for line in lines) and any(line.endswith("stopped") for line in lines)
    samples = _metric_samples(page)
    counted = {(name, tuple(sorted(labels.items()))): value for name, labels, value in samples}

    def count(name: str, **labels) -> float:
        return counted.get((name, tuple(sorted(labels.items()))), 0.0)

    assert count("varde_rpcs_total", method="ScoreBatches", code="OK") >= 1
    assert count("varde_rpcs_total", method="ScoreBatches", code="INVALID_ARGUMENT") >= 4
    assert count("varde_rpcs_total", method="PushObservation", code="OK") >= 2
    assert count("varde_rpcs_total", method="StreamObservations", code="OK") >= 1
    assert count("varde_rpcs_total", method="ScorePatients", code="OK") >= 1
    assert count("varde_rpcs_total", method="ClaimFlag", code="FAILED_PRECONDITION") >= 1
    assert count("varde_rpcs_total", method="ResolveFlag", code="OK") >= 1
    assert sum(v for name, labels, v in samples if name == "varde_auth_refused_total"
               and labels["method"] == "ListFlags" and labels["code"] == "UNAUTHENTICATED") >= 2
    assert count("varde_auth_refused_total", method="ListFlags", code="PERMISSION_DENIED", reason="role") >= 1
    assert count("varde_auth_refused_total", method="PushObservation", code="PERMISSION_DENIED", reason="role") >= 1
    assert sum(v for name, _, v in samples if name == "varde_rows_rejected_total") >= 2
    assert count("varde_flags_resolved_total", outcome="VISITED") >= 1 and count("varde_flags_claimed_total") >= 1

    # identifiers, names, the note, codes, credentials: nowhere, not even as part of a line
    secrets = [*PATIENTS, *NAMES, NOTE, *CODES, *HPR.values(), forged]
    for token in (*tokens.values(), forged):
        secrets += [token, *token.split(".")[1:]]  # the claims and the signature on their own too
    for where, text in (("log", log), ("metrics page", page)):
        found = sorted({s for s in secrets if s in text})
        assert not found, f"{where} holds {found}: " + "; ".join(
            line for line in text.splitlines() if any(s in line for s in found))[:4000]

    # clinical values: in a log line's message part (see ALONE for why these and why so)
    alone = re.compile(r"(?<![\d.])(" + "|".join(_decimal(v) for v in ALONE) + r")(?![\d.]*\d)")
    named = re.compile(r"(" + "|".join(VITALS) + r")\W{0,4}(" + "|".join(
        _decimal(v) for v in VALUES.values()) + r")(?![\d.]*\d)")
    numbers = re.compile(r"(?<!\d)\d{11}(?!\d)")  # anything shaped like a national identity number
    leaking = [line for line in lines if alone.search(_message(line)) or named.search(_message(line))
               or numbers.search(_message(line))]
    assert not leaking, "\n".join(leaking[:20])

    # no label value on the metrics page is a patient, a name or a clinical value
    values = {float(v) for v in VALUES.values()}
    bad_labels = sorted({(name, key, value) for name, labels, _ in samples for key, value in labels.items()
                         if _number(value) in values or numbers.search(value)
                         or any(s in value for s in secrets)})
    assert not bad_labels, bad_labels
