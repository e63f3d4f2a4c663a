"""Every input the fuzzing found that crashed the server, answered INTERNAL or UNAVAILABLE, or read memory it should
not: each one minimised, sent to the running server, and answered with a request error now.

"""

from __future__ import annotations

import re
import threading
import time

import grpc
import numpy as np
import pyarrow as pa
import pytest
from google.protobuf import timestamp_pb2

from tests.fuzz.conftest import GOOD_OBSERVATIONS, GOOD_PATIENTS, ipc
from varde._proto.varde.v1 import observations_pb2
from varde.scoring import SchemaError, score_news2
from varde.scoring.risk import score_risk

INVALID = grpc.StatusCode.INVALID_ARGUMENT

# Rows that raise flags (band HIGH), so that the flag queue's code runs on the batch too.
HIGH = pa.table({"patient_id": ["p1", "p2"], "observed_at": pa.array([0, 3_600], pa.timestamp("s")),
                 "resp_rate": [30.0, 12.0], "spo2": [85, 98], "on_oxygen": [True, True], "systolic_bp": [85, 120],
                 "pulse": [140, 70], "consciousness": ["V", "A"], "temperature": [39.5, 37.0]})


def replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.schema.get_field_index(name), name, values)
    return table.append_column(name, values)


def assert_refused(outcome, column: str | None = None) -> None:
    assert outcome.code == INVALID, str(outcome)
    if column is not None:
        assert repr(column) in outcome.details, outcome.details


# -- fixed in varde.scoring -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", [100_000_000, 2, -5])
def test_consciousness_dictionary_index_outside_the_dictionary(serving, index):
    """Found by atheris. The kernel looked up the consciousness code of each dictionary index without a bounds
    check: index 100_000_000 killed the server (SIGSEGV), -5 read a stray byte and scored the row with it (OK)."""
    codes = pa.DictionaryArray.from_arrays(pa.array([0, index], pa.int32()), pa.array(["A", "V"]), safe=False)
    table = replace(HIGH, "consciousness", codes)
    assert_refused(serving.score("ScoreBatches", ipc(table)), "consciousness")
    with pytest.raises(SchemaError, match="consciousness"):
        score_news2(table)


@pytest.mark.parametrize("column", ["patient_id", "resp_rate"])
@pytest.mark.parametrize("method", ["ScoreBatches", "ScorePatients"])
def test_dictionary_index_outside_the_dictionary(serving, column, method):
    """Was INTERNAL (pyarrow ArrowIndexError from dictionary_decode or take)."""
    dictionary = pa.array(["a", "b"]) if column == "patient_id" else pa.array([12.0, 30.0])
    values = pa.DictionaryArray.from_arrays(pa.array([0, 7], pa.int8()), dictionary, safe=False)
    table = HIGH if method == "ScoreBatches" else GOOD_PATIENTS.append_column("resp_rate", pa.array([1.0]))
    if method == "ScorePatients":
        values = values.slice(1, 1)
    assert_refused(serving.score(method, ipc(replace(table, column, values))), column)


def test_passed_through_column_with_broken_offsets(serving):
    """Found by atheris: a column Varde does not read, with string offsets that run backwards, crashed the server
    (SIGSEGV in pyarrow's take, called by the flag queue's server/flags/rules.py::_assessment_json for a batch
    that raised a flag and had observed_at). Every column is now validated before scoring."""
    offsets = np.array([0, -83_886_081, 1], np.int32)
    note = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"x")])
    patients = pa.table({"patient_id": ["a", "b"], "age": [81, 50], "icd10": [["I50.9"], None]})
    for method, table in (("ScoreBatches", HIGH), ("ScorePatients", patients)):
        assert_refused(serving.score(method, ipc(table.append_column("note", note))), "note")


def test_patient_id_with_broken_offsets(serving):
    """Found by atheris after the patient_id length check went in: that check (and the national id kernel) read
    patient_id's offsets before the scoring validated them (SIGSEGV in pyarrow's binary_length)."""
    offsets = np.array([0, -83_886_081, 1], np.int32)
    ids = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"x")])
    patients = pa.table({"patient_id": ["a", "b"], "age": [81, 50], "icd10": [["I50.9"], None]})
    for method, table in (("ScoreBatches", HIGH), ("ScorePatients", patients)):
        assert_refused(serving.score(method, ipc(replace(table, "patient_id", ids))), "patient_id")


def _patched(data: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and data.count(old) == 1
    return data.replace(old, new)


@pytest.mark.parametrize("method", ["ScoreBatches", "ScorePatients"])
def test_names_that_are_not_utf8(serving, method):
    """Found by atheris: a column name (or a nested field name) that is not UTF-8 made pyarrow raise
    UnicodeDecodeError wherever it was read: INTERNAL."""
    table = HIGH if method == "ScoreBatches" else GOOD_PATIENTS
    top = ipc(table.append_column("QQQQ", pa.array([1] * table.num_rows)))
    nested = ipc(table.append_column("s", pa.array([{"QQQQ": 1}] * table.num_rows)))
    for data in (_patched(top, b"QQQQ", b"Q\xffQQ"), _patched(nested, b"QQQQ", b"\xfe\xffQQ")):
        assert_refused(serving.score(method, data))


def test_time_zone_that_is_not_utf8(serving):
    """Found by atheris: observed_at with a time zone that is not UTF-8: UnicodeDecodeError in the flag queue's
    server/flags/rules.py::_times (INTERNAL)."""
    table = replace(HIGH, "observed_at", HIGH.column("observed_at").cast(pa.timestamp("s", "Etc/UTC")))
    data = _patched(ipc(table), b"Etc/UTC", b"Etc/\xffTC")
    assert_refused(serving.score("ScoreBatches", data), "observed_at")


def _with_day_time_interval(table: pa.Table, name: str) -> bytes:
    """`table` as IPC with its month_day_nano_interval column `name` turned into day_time_interval, which Java and
    Go Arrow write and pyarrow has no array class for. The interval unit is one int16 of the schema message."""
    data = ipc(table)
    schema_end = 8 + int.from_bytes(data[4:8], "little")
    for match in re.finditer(b"\x02\x00", data[:schema_end]):
        patched = data[:match.start()] + b"\x01\x00" + data[match.end():]
        try:
            if str(pa.ipc.open_stream(patched).schema.field(name).type) == "day_time_interval":
                return patched
        except (pa.ArrowException, OSError, KeyError):
            continue
    raise AssertionError("no interval unit found")


@pytest.mark.parametrize(("method", "name"), [("ScoreBatches", "pulse"), ("ScoreBatches", "iv"),
                                              ("ScorePatients", "age"), ("ScorePatients", "iv")])
def test_type_pyarrow_cannot_hold(serving, method, name):
    """Found by atheris: a day_time_interval column made pyarrow raise KeyError on touching it (INTERNAL)."""
    table = HIGH if method == "ScoreBatches" else GOOD_PATIENTS
    interval = pa.array([pa.MonthDayNano([0, 1, 2])] * table.num_rows, pa.month_day_nano_interval())
    assert_refused(serving.score(method, _with_day_time_interval(replace(table, name, interval), name)), name)


def test_risk_duplicate_columns(serving):
    """Was INTERNAL (KeyError from Table.column with a name that appears twice)."""
    for name in ("age", "patient_id"):
        table = pa.Table.from_arrays([*GOOD_PATIENTS.columns, GOOD_PATIENTS.column(name)],
                                     names=[*GOOD_PATIENTS.column_names, name])
        assert_refused(serving.score("ScorePatients", ipc(table)), name)


@pytest.mark.parametrize("values", [
    pa.array([{"id": 1}]), pa.array([[1]]), pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
    pa.array([1.5]), pa.array([float("nan")]), pa.array([1], pa.int64()).cast(pa.decimal128(22, 2)),
], ids=["struct", "list", "map", "float", "nan", "decimal"])
def test_risk_patient_id_that_is_no_id(serving, values):
    """Was INTERNAL (TypeError: unhashable, in the flag queue's record_risk) for struct, list and map ids, and
    UNAVAILABLE ('the flag store is unavailable': SQLite cannot bind a Decimal, NaN became NULL) for the others."""
    assert_refused(serving.score("ScorePatients", ipc(replace(GOOD_PATIENTS, "patient_id", values))), "patient_id")
    with pytest.raises(SchemaError, match="patient_id"):
        score_risk(replace(GOOD_PATIENTS, "patient_id", values))


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_compressed_string_view_written_by_pyarrow(serving, compression):
    """Found by the property tests: pyarrow 26 writes a small string_view column into a compressed stream so that
    reading it back (pyarrow, polars) gives an invalid array; casting that crashed the server (SIGSEGV). If a
    later pyarrow round-trips it, the batch is simply scored."""
    table = replace(GOOD_OBSERVATIONS, "consciousness", pa.array(["A", "v"], pa.string_view()))
    out = serving.score("ScoreBatches", ipc(table, compression=compression))
    assert out.code in (grpc.StatusCode.OK, INVALID), str(out)
    if out.code == grpc.StatusCode.OK:
        assert out.replies[0][1].column("news2_consciousness").to_pylist() == [0, 3]


# -- reported, not fixed: server/ ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds", [10**13, -(10**13), 2**63 - 1])
def test_observed_at_beyond_int64_microseconds(serving, seconds):
    """Found by the property tests. A Timestamp's seconds may be any int64 on the wire (protobuf documents
    0001-01-01 to 9999-12-31); past +-9.2e12 s the flag queue's table overflows."""
    obs = observations_pb2.Observation(patient_id="p1", resp_rate=14,
                                       observed_at=timestamp_pb2.Timestamp(seconds=seconds))
    try:
        serving.observations.PushObservation(obs, timeout=30)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    assert code in (grpc.StatusCode.OK, INVALID), code


@pytest.mark.parametrize("method", ["/varde.v1.Observations/PushObservation", "/varde.v1.Flags/ListFlags",
                                    "/varde.v1.Flags/ClaimFlag", "/varde.v1.Scoring/GetServerInfo"])
def test_undecodable_protobuf_request_is_invalid_argument(serving, method):
    with pytest.raises(grpc.RpcError) as info:
        serving.raw_unary(method)(b"\x0a\xff", timeout=30)
    assert info.value.code() == INVALID, info.value.code()


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) * 1024


def _rss_growth_during(call) -> tuple[object, int]:
    """call()'s result and how far this process's resident memory (the server's, in process) rose above where it
    started while the call ran, sampled every millisecond."""
    start, peak, done = _rss_bytes(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = call()
    finally:
        done.set()
        sampler.join()
    return result, max(0, peak[0] - start)


def test_compressed_stream_is_not_inflated_without_bound(serving):
    """A 30 KiB request whose zstd-compressed columns of zeros inflate to 512 MiB: the server answers, but only
    after allocating all of it. A 64 MiB request inflates to some 2 TB, and the server is killed for memory."""
    zeros = pa.array([b"\0" * (64 << 20)], pa.large_binary())
    data = ipc(pa.table({f"x{i}": zeros for i in range(8)}), compression="zstd")
    del zeros
    assert len(data) < 64 << 10
    out, growth = _rss_growth_during(lambda: serving.score("ScoreBatches", data))
    assert out.code in (INVALID, grpc.StatusCode.RESOURCE_EXHAUSTED), str(out)
    assert growth < 128 << 20, f"the server inflated a {len(data)}-byte request by {growth >> 20} MiB"
