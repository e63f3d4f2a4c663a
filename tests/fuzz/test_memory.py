"""Bad requests do not make the server hold memory: after a warm-up, a few thousand more of them, of every kind,
leave its resident memory (this process's: the server runs in it) within a fixed bound.
"""

from __future__ import annotations

import ctypes
import gc
import random
import struct
from concurrent.futures import ThreadPoolExecutor

import grpc
import pyarrow as pa

from tests.fuzz.conftest import ARROW_ERRORS, GOOD_OBSERVATIONS, GOOD_PATIENTS, PROTO_ERRORS, ipc
from varde._proto.varde.v1 import flags_pb2, observations_pb2

WARM_UP = 500
MEASURED = 3000
BOUND = 32 << 20  # bytes of growth allowed over the measured requests (about 10 MiB is usual)


def rss_bytes() -> int:
    """Resident memory after handing freed memory back (Python, Arrow's pool, the C heap), so that memory other
    tests freed does not hide growth here."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) * 1024


def bad_requests(varde, rng: random.Random):
    """Calls that must each end with a request error (a few end OK: a bad row is data, not an error)."""
    good = ipc(GOOD_OBSERVATIONS)
    wrong_types = ipc(GOOD_OBSERVATIONS.set_column(1, "resp_rate", pa.array(["fast", "slow"])))
    broken_dictionary = ipc(GOOD_OBSERVATIONS.set_column(6, "consciousness", pa.DictionaryArray.from_arrays(
        pa.array([0, 9], pa.int8()), pa.array(["A"]), safe=False)))
    missing = ipc(GOOD_PATIENTS.drop_columns(["age"]))
    push = varde.raw_unary("/varde.v1.Observations/PushObservation")

    def score(method, data):
        return lambda: varde.score(method, data).code

    def unary(call):
        def run():
            try:
                call()
            except grpc.RpcError as e:
                return e.code()
            return grpc.StatusCode.OK
        return run

    def truncated():
        return good[:rng.randrange(len(good))]

    def absurd_length():
        data = bytearray(good)
        struct.pack_into("<i", data, 4, rng.choice([2**31 - 1, -1, -(2**31)]))
        return bytes(data)

    kinds = {
        "random bytes": lambda: score("ScoreBatches", rng.randbytes(rng.randrange(1, 400)))(),
        "random bytes, patients": lambda: score("ScorePatients", rng.randbytes(rng.randrange(1, 400)))(),
        "truncated": lambda: score("ScoreBatches", truncated())(),
        "truncated, patients": lambda: score("ScorePatients", truncated())(),
        "absurd metadata length": lambda: score("ScoreBatches", absurd_length())(),
        "wrong types": lambda: score("ScoreBatches", wrong_types)(),
        "broken dictionary": lambda: score("ScoreBatches", broken_dictionary)(),
        "missing column": lambda: score("ScorePatients", missing)(),
        "empty": lambda: score("ScoreBatches", b"")(),
        "undecodable": unary(lambda: push(b"\x0a\x02\xff\xfe", timeout=30)),
        "bad values": unary(lambda: varde.observations.PushObservation(observations_pb2.Observation(
            patient_id="m", resp_rate=float("nan"), consciousness="x" * rng.randrange(1, 5000)), timeout=30)),
        "negative limit": unary(lambda: varde.flags.ListFlags(flags_pb2.FlagFilter(limit=-1), timeout=30)),
        "unknown flag": unary(lambda: varde.flags.ClaimFlag(flags_pb2.ClaimRequest(
            flag_id=-rng.randrange(1, 2**40)), timeout=30)),
    }
    names = sorted(kinds)
    while True:
        name = rng.choice(names)
        yield name, kinds[name]


def check(name: str, code: grpc.StatusCode) -> None:
    allowed = ARROW_ERRORS | PROTO_ERRORS | {grpc.StatusCode.OK}
    assert code in allowed, f"{name}: {code.name}"


def test_memory_stays_bounded_under_bad_requests(varde):
    calls = bad_requests(varde, random.Random(20_240_601))
    with ThreadPoolExecutor(4) as pool:
        def run(n: int) -> None:
            for name, code in pool.map(lambda item: (item[0], item[1]()), (next(calls) for _ in range(n))):
                check(name, code)

        run(WARM_UP)
        before = rss_bytes()
        run(MEASURED)
        after = rss_bytes()
    varde.assert_serving()
    assert after - before < BOUND, f"resident memory grew by {(after - before) >> 20} MiB over {MEASURED} requests"
