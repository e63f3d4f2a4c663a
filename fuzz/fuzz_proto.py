#!/usr/bin/env python3
"""Coverage-guided fuzzing of the protobuf entry points: PushObservation and StreamObservations, through the same
code the server runs for them (score the group of observations, build the Assessments, commit flags to a real
SQLite queue), without gRPC.

    python fuzz/fuzz_proto.py -max_total_time=600            # see fuzz/README.md

The first input byte picks the form of the rest (see `TestOneInput`): observations built field by field with
atheris.FuzzedDataProvider (NaN, infinities, huge and negative numbers, any text, any timestamp), or raw bytes
parsed with Observation.FromString as the server's deserializer does (a DecodeError is the deserializer refusing
the bytes). An answer is one Assessment per observation; any exception is a finding. Numba kernels run with bounds
checks, as in fuzz_arrow.py.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading

if os.environ.get("VARDE_FUZZ_BOUNDSCHECK", "1") != "0":
    os.environ.setdefault("NUMBA_BOUNDSCHECK", "1")
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "varde-fuzz", "numba"))

import atheris  # noqa: E402
from _corpus import argv_with_seeds  # noqa: E402  (fuzz/, the script's own folder)
from google.protobuf.message import DecodeError  # noqa: E402

_KERNELS = ["varde._proto", "varde.scoring._jit", "varde.scoring._news2_kernel", "varde.scoring._trend_kernel",
            "varde.scoring._national_id_kernel", "varde.scoring.risk._atc_kernel",
            "varde.scoring.risk._charlson_kernel"]

with atheris.instrument_imports(include=["varde"], exclude=_KERNELS):
    from varde._proto.varde.v1 import observations_pb2 as pb
    from varde.scoring import warm_up
    from varde.server.errors import RequestError
    from varde.server.flags.queue import FlagQueue
    from varde.server.metrics import Metrics
    from varde.server.services.observations import ObservationsService
    from varde.server.services.scoring import ScoringService
    from varde.server.store import open_store
    from varde.server.store.base import Caller

WORDS = ["A", "C", "V", "P", "U", "a", " v ", "alert", "Ny forvirring", "VÅKEN", "ikke kontaktbar", "sleepy", ""]
NUMBERS = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature")
INTS = ("spo2_scale", "age")
FLAGS = ("on_oxygen", "pregnant")
CALLER = Caller("fuzz", "", "StreamObservations")

def _service() -> ObservationsService:
    """An ObservationsService as create_server builds it, with its flag queue in a fresh SQLite file."""
    folder = tempfile.mkdtemp(prefix="varde-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    metrics = Metrics()
    ready = threading.Event()
    ready.set()
    queue = FlagQueue(open_store(os.path.join(folder, "queue.sqlite3")), metrics)
    scoring = ScoringService(metrics, ready, 64 << 20, queue)
    return ObservationsService(metrics, scoring, 512)


def _observation(fdp: atheris.FuzzedDataProvider) -> pb.Observation:
    obs = pb.Observation()
    obs.patient_id = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    if fdp.ConsumeBool():
        obs.observed_at.seconds = fdp.ConsumeIntInRange(-(2**63), 2**63 - 1)
        obs.observed_at.nanos = fdp.ConsumeIntInRange(-(2**31), 2**31 - 1)
    for name in NUMBERS:
        if fdp.ConsumeBool():
            setattr(obs, name, fdp.ConsumeFloat() if fdp.ConsumeBool() else float(fdp.ConsumeIntInRange(-5, 400)))
    for name in INTS:
        if fdp.ConsumeBool():
            setattr(obs, name, fdp.ConsumeIntInRange(-(2**31), 2**31 - 1))
    for name in FLAGS:
        if fdp.ConsumeBool():
            setattr(obs, name, fdp.ConsumeBool())
    if fdp.ConsumeBool():
        obs.consciousness = fdp.PickValueInList(WORDS)
    else:
        obs.consciousness = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 20))
    obs.source = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 10))
    return obs


def _assess(observations: list[pb.Observation]) -> None:
    try:
        out = SERVICE._assess(observations, CALLER)
    except RequestError:
        return  # a request the server refuses with a status (a time outside the Timestamp range, an absurd id)
    assert len(out) == len(observations)
    for obs, assessment in zip(observations, out, strict=True):
        assert assessment.patient_id == obs.patient_id
        assert assessment.HasField("total") == (assessment.band != pb.BAND_UNSPECIFIED)
        assessment.SerializeToString()


def TestOneInput(data: bytes) -> None:
    """Byte 0 even: the rest builds 1 to 8 observations field by field (one kernel call, as a stream group);
    odd: the rest is one Observation message's bytes."""
    if not data:
        return
    if data[0] & 1:
        try:
            obs = pb.Observation.FromString(data[1:])
        except DecodeError:
            return  # the deserializer refuses the bytes (what the server answers then: fuzz/README.md)
        _assess([obs])
        return
    fdp = atheris.FuzzedDataProvider(data[1:])
    _assess([_observation(fdp) for _ in range(fdp.ConsumeIntInRange(1, 8))])


def seeds() -> list[bytes]:
    full = pb.Observation(patient_id="p1", resp_rate=22, spo2=95, on_oxygen=False, systolic_bp=118, pulse=96,
                          consciousness="A", temperature=38.4, age=70, spo2_scale=1, pregnant=False, source="dev")
    full.observed_at.FromSeconds(1_700_000_000)
    high = pb.Observation(patient_id="p2", resp_rate=30, spo2=85, on_oxygen=True, systolic_bp=85, pulse=140,
                          consciousness="V", temperature=39.5)
    out = [b"\x01" + m.SerializeToString() for m in (full, high, pb.Observation())]
    out += [b"\x00" + bytes(range(256)), b"\x00" + b"\xff" * 64, b"\x00" + b"\x00" * 64]
    return out


def main() -> None:
    argv = argv_with_seeds(seeds)
    logging.disable(logging.CRITICAL)
    global SERVICE
    warm_up()
    SERVICE = _service()
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


SERVICE: ObservationsService

if __name__ == "__main__":
    main()
