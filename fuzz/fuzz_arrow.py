#!/usr/bin/env python3
"""Coverage-guided fuzzing of the Arrow entry points: ScoreBatches and ScorePatients, one request at a time, through
the same code the server runs for a request (decode, read the IPC stream, check, score, commit flags to a real
SQLite queue, write the reply), without gRPC.

    python fuzz/fuzz_arrow.py -max_total_time=600            # see fuzz/README.md

The first input byte picks the entry point and the form of the rest (see `TestOneInput`). A documented request
error (the exceptions server/errors.py maps to INVALID_ARGUMENT, RESOURCE_EXHAUSTED, FAILED_PRECONDITION) is an
expected answer; any other exception, a reply that is not a readable Arrow stream with one row per input row, or a
crash of the process is a finding. The Numba kernels run with bounds checks (NUMBA_BOUNDSCHECK=1, compiled once into
their own cache): a read outside an array raises IndexError here where the server would read stray memory.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
import threading
import traceback

if os.environ.get("VARDE_FUZZ_BOUNDSCHECK", "1") != "0":
    os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "varde-fuzz", "numba"))

import atheris  # noqa: E402
import grpc  # noqa: E402
import pyarrow as pa  # noqa: E402
from _corpus import argv_with_seeds  # noqa: E402  (fuzz/, the script's own folder)

_KERNELS = ["varde._proto", "varde.scoring._jit", "varde.scoring._news2_kernel", "varde.scoring._trend_kernel",
            "varde.scoring._national_id_kernel", "varde.scoring.risk._atc_kernel",
            "varde.scoring.risk._charlson_kernel"]

with atheris.instrument_imports(include=["varde"], exclude=_KERNELS):
    from varde._wire import ArrowBatchView, decode_arrow_batch, encode_arrow_batch
    from varde.scoring import RESULT_COLUMNS, SchemaError, warm_up
    from varde.scoring.risk import RISK_COLUMNS
    from varde.scoring.risk import warm_up as warm_up_risk
    from varde.server.errors import RequestError, to_status
    from varde.server.flags.queue import FlagQueue
    from varde.server.metrics import Metrics
    from varde.server.services.scoring import ScoringService
    from varde.server.store import open_store
    from varde.server.store.base import Caller

# What server/errors.py answers with a request-error status; anything else raised is a finding.
EXPECTED = (SchemaError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, MemoryError)
ALLOWED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.FAILED_PRECONDITION}

_ids = itertools.count()


def _service() -> ScoringService:
    """A ScoringService as create_server builds it, with its flag queue in a fresh SQLite file (on tmpfs when
    there is one: every request commits)."""
    folder = tempfile.mkdtemp(prefix="varde-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    metrics = Metrics()
    ready = threading.Event()
    ready.set()
    store = open_store(os.path.join(folder, "queue.sqlite3"))
    return ScoringService(metrics, ready, 64 << 20, FlagQueue(store, metrics))


def _check_error(exc: Exception) -> None:
    code, message, _ = to_status(exc, "fuzz")
    if isinstance(exc, (RequestError, *EXPECTED)) and code in ALLOWED and message:
        return
    trace = "".join(traceback.format_exception(exc))
    raise AssertionError(f"the server would answer {code.name}: {message}\n{trace}") from exc


def _check_reply(method: str, reply, ipc) -> None:
    """A readable Arrow stream, one row per input row, with valid result columns. (Input columns come back as
    sent: the server does not validate the ones it does not read, so they are not checked here.)"""
    table = pa.ipc.open_stream(pa.py_buffer(ipc)).read_all()
    rows = reply.summary.rows
    assert table.num_rows == rows, (table.num_rows, rows)
    for name in RESULT_COLUMNS if method == "ScoreBatches" else RISK_COLUMNS:
        table.column(name).validate(full=True)


def TestOneInput(data: bytes) -> None:
    """Byte 0: bit 0 ScorePatients (else ScoreBatches); bit 1 the rest is the whole ArrowBatch message as gRPC
    delivers it (else the rest is its arrow_ipc, with a fresh batch_id); bit 2 results_only."""
    if not data:
        return
    mode, body = data[0], data[1:]
    method = "ScorePatients" if mode & 1 else "ScoreBatches"
    if mode & 2:
        request = decode_arrow_batch(body)
    else:
        request = ArrowBatchView(batch_id=f"fuzz-{next(_ids)}", arrow_ipc=body, results_only=bool(mode & 4))
    handler = SERVICE._score_patients if method == "ScorePatients" else SERVICE._score_request
    try:
        reply, ipc = handler(request, Caller("fuzz", "", method))
    except Exception as exc:  # sorted into expected answers and findings
        _check_error(exc)
        return
    _check_reply(method, reply, ipc)


# -- seeds ------------------------------------------------------------------------------------------------------

def _ipc(table: pa.Table, *, chunk: int | None = None, compression: str | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression, emit_dictionary_deltas=True)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=chunk)
    return sink.getvalue().to_pybytes()


def _observations() -> pa.Table:
    return pa.table({
        "patient_id": ["p1", "p2", None, "p1"],
        "observed_at": pa.array([1_700_000_000_000_000, None, 0, 1_700_000_360_000_000], pa.timestamp("us", "UTC")),
        "resp_rate": pa.array([22, 12, 30, None], pa.int16()),
        "spo2": [95.0, 98.0, float("nan"), 88.0],
        "spo2_scale": pa.array([1, 2, None, 2], pa.int8()),
        "on_oxygen": [False, True, None, True],
        "systolic_bp": pa.array([118, 120, 85, 300], pa.int32()),
        "pulse": pa.array([96, 70, 140, 41], pa.float32()),
        "consciousness": ["A", "v", " alert ", "ny forvirring"],
        "temperature": [38.4, 37.0, 98.6, 35.05],
        "age": pa.array([80, 12, None, 40], pa.uint8()),
        "pregnant": [False, None, True, False],
        "note": ["a", None, "c", "d"],
    })


def _patients() -> pa.Table:
    return pa.table({
        "patient_id": ["a", "b", "c", "a"],
        "age": [81, 45, None, 82],
        "icd10": pa.array([["I50.9", "E11"], None, ["C50", "x"], []], pa.list_(pa.string())),
        "icpc2": pa.array([["K77"], ["T90"], None, ["R95"]], pa.list_(pa.string())),
        "atc": pa.array([["C07AB02", "C03CA01", "A10BA02", "B01AC06", "N02BE01"], None, ["C07"], []],
                        pa.list_(pa.string())),
        "admissions_12m": [3, 0, 1, None],
        "lives_alone": [True, False, None, True],
        "has_coordinator": [False, True, None, False],
    })


def seeds() -> list[bytes]:
    obs, pat = _observations(), _patients()
    dictionary = obs.set_column(obs.schema.get_field_index("consciousness"), "consciousness",
                                obs.column("consciousness").dictionary_encode())
    dictionary = dictionary.set_column(0, "patient_id", obs.column("patient_id").dictionary_encode())
    streams = [
        (0, _ipc(obs)), (4, _ipc(obs, chunk=1)), (0, _ipc(dictionary, chunk=2)), (0, _ipc(obs.slice(0, 0))),
        (0, _ipc(obs, compression="lz4")), (0, _ipc(obs, compression="zstd")),
        (0, _ipc(obs.drop_columns(["temperature"]))),
        (1, _ipc(pat)), (5, _ipc(pat, chunk=1)), (1, _ipc(pat.drop_columns(["age"]))),
        (1, _ipc(pat, compression="zstd")),
    ]
    out = [bytes([mode]) + ipc for mode, ipc in streams]
    out += [bytes([mode | 2]) + encode_arrow_batch(ArrowBatchView("seed", ipc, bool(mode & 4)))
            for mode, ipc in streams]
    return out


def main() -> None:
    argv = argv_with_seeds(seeds)
    logging.disable(logging.CRITICAL)  # errors.to_status logs the unexpected ones; the harness reports them
    global SERVICE
    warm_up()  # compile (or load) every kernel first: compile time is not fuzzing time
    warm_up_risk()
    SERVICE = _service()
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


SERVICE: ScoringService

if __name__ == "__main__":
    main()
