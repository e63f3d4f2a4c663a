"""The protobuf entry points against any field values and any bytes: PushObservation, StreamObservations, the Flags
service and GetServerInfo. Every call ends with OK or INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION /
RESOURCE_EXHAUSTED / OUT_OF_RANGE, and the server keeps serving (see conftest.py).
"""

from __future__ import annotations

import math

import grpc
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import PROTO_ERRORS
from varde._proto.varde.v1 import flags_pb2, observations_pb2, patients_pb2, scoring_pb2

FUZZ = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.data_too_large])
OK = grpc.StatusCode.OK

# Any int64 seconds: a time outside google.protobuf.Timestamp's range is a request error, not a crash.
MAX_SECONDS = 2**63 - 1
# Bytes that are no protobuf message of the method's type: INVALID_ARGUMENT like any other bad request.
UNDECODABLE_ANSWERS = PROTO_ERRORS

numbers = (st.floats() | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0, -0.0, 5e-324, 2.0**63])
           | st.floats(-10, 400, allow_nan=False).map(lambda v: round(v, 1)))
int32 = st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, 1, 2, 3, 15, 16, 130, 131])
WORDS = ["A", "C", "V", "P", "U", "v ", "alert", "VÅKEN", "ny forvirring", "sleepy", "", "\u0000", "Ａ"]


def texts(big: int = 200_000):
    """Any text (NUL, every plane of unicode), the words of the contract, now and then a long or huge one."""
    return (st.text(max_size=40) | st.sampled_from(WORDS) | st.integers(1, big).map(lambda n: "é" * n)
            | st.just("x" * (big * 10)))


@st.composite
def observations(draw, big: int = 200_000) -> observations_pb2.Observation:
    obs = observations_pb2.Observation(patient_id=draw(texts(big)), consciousness=draw(texts(big)),
                                       source=draw(texts(big)))
    if draw(st.booleans()):
        obs.observed_at.seconds = draw(st.integers(-MAX_SECONDS, MAX_SECONDS))
        obs.observed_at.nanos = draw(int32)
    for name in ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature"):
        if draw(st.booleans()):
            setattr(obs, name, draw(numbers))
    for name in ("spo2_scale", "age"):
        if draw(st.booleans()):
            setattr(obs, name, draw(int32))
    for name in ("on_oxygen", "pregnant"):
        if draw(st.booleans()):
            setattr(obs, name, draw(st.booleans()))
    return obs


def status(call, *args, **kw) -> tuple[grpc.StatusCode, str, object]:
    try:
        return OK, "", call(*args, timeout=60, **kw)
    except grpc.RpcError as e:
        return e.code(), e.details() or "", None


def check(code: grpc.StatusCode, details: str, allowed=PROTO_ERRORS) -> None:
    event(code.name)
    assert code == OK or code in allowed, f"{code.name}: {details[:300]}"
    if code != OK:
        assert details.strip(), f"{code.name} without a message"


def check_assessment(obs: observations_pb2.Observation, a: observations_pb2.Assessment) -> None:
    assert a.patient_id == obs.patient_id
    assert a.HasField("total") == (a.band != observations_pb2.BAND_UNSPECIFIED)
    if not obs.patient_id:
        assert a.reject_reason == "MISSING_PATIENT_ID"


# -- observations ---------------------------------------------------------------------------------------------------

@settings(FUZZ, max_examples=80)
@given(observations())
def test_push_any_observation(varde, obs):
    code, details, assessment = status(varde.observations.PushObservation, obs)
    check(code, details)
    if code == OK:
        check_assessment(obs, assessment)
    varde.example_done()


@settings(FUZZ, max_examples=40)
@given(st.lists(observations(big=2_000), max_size=8))
def test_stream_any_observations(varde, batch):
    got = []
    try:
        for a in varde.observations.StreamObservations(iter(batch), timeout=60):
            got.append(a)
        code, details = OK, ""
    except grpc.RpcError as e:
        code, details = e.code(), e.details() or ""
    check(code, details)
    if code == OK:
        assert len(got) == len(batch)
        for obs, a in zip(batch, got, strict=True):
            check_assessment(obs, a)
    varde.example_done()


@FUZZ
@given(st.binary(max_size=300) | observations().map(lambda o: o.SerializeToString()[:-1]))
def test_push_any_bytes(varde, data):
    """Raw bytes as the PushObservation request: parsed like the server's deserializer does it, or refused."""
    try:
        observations_pb2.Observation.FromString(data)
        decodable = True
    except DecodeError:
        decodable = False
    event(f"decodable={decodable}")
    code, details, _ = status(varde.raw_unary("/varde.v1.Observations/PushObservation"), data)
    check(code, details, PROTO_ERRORS if decodable else UNDECODABLE_ANSWERS)
    varde.example_done()


def test_huge_observations(serving):
    """A patient id longer than 256 characters is refused with INVALID_ARGUMENT (it would be stored in flags and
    sent to every coordinator); over the message limit, RESOURCE_EXHAUSTED."""
    for size, expected in ((256, OK), (257, grpc.StatusCode.INVALID_ARGUMENT),
                           (63 << 20, grpc.StatusCode.INVALID_ARGUMENT),
                           (65 << 20, grpc.StatusCode.RESOURCE_EXHAUSTED)):
        obs = observations_pb2.Observation(patient_id="p" * size, resp_rate=14)
        code, details, a = status(serving.observations.PushObservation, obs)
        assert code == expected, f"{code.name}: {details[:300]}"
        if code == OK:
            assert a.reject_reason == "" and len(a.patient_id) == size


# -- flags and server info ------------------------------------------------------------------------------------------

flag_ids = st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 50)
states = st.lists(st.integers(-(2**31), 2**31 - 1) | st.integers(0, 5), max_size=4)
filters = st.builds(flags_pb2.FlagFilter, states=states, kinds=st.lists(texts(20_000), max_size=3),
                    patient_id=texts(20_000), min_severity=int32, limit=int32)


@FUZZ
@given(filters)
def test_list_flags_any_filter(varde, flt):
    code, details, _ = status(varde.flags.ListFlags, flt)
    check(code, details)
    varde.example_done()


@FUZZ
@given(st.sampled_from(["claim", "release", "resolve"]), flag_ids, texts(20_000), texts(30_000))
def test_claim_release_resolve_any_flag(varde, what, flag_id, coordinator, note):
    if what == "claim":
        code, details, _ = status(varde.flags.ClaimFlag, flags_pb2.ClaimRequest(flag_id=flag_id,
                                                                                 coordinator=coordinator))
    elif what == "release":
        code, details, _ = status(varde.flags.ReleaseFlag, flags_pb2.ReleaseRequest(
            flag_id=flag_id, coordinator=coordinator, reason=note))
    else:
        request = flags_pb2.ResolveRequest(flag_id=flag_id, coordinator=coordinator, note=note,
                                           outcome=coordinator[:20] if len(coordinator) % 2 else "NO_ACTION")
        code, details, _ = status(varde.flags.ResolveFlag, request)
    check(code, details)
    varde.example_done()


@settings(FUZZ, max_examples=15)
@given(filters, flag_ids)
def test_watch_flags_any_request(varde, flt, cursor):
    """The first events of a watch, or its status; our own short deadline ends a watch that is still open."""
    call = varde.flags.WatchFlags(flags_pb2.WatchRequest(filter=flt, after_cursor=cursor), timeout=0.5)
    try:
        for _ in call:
            pass
        code, details = OK, ""
    except grpc.RpcError as e:
        code, details = e.code(), e.details() or ""
    check(code, details, PROTO_ERRORS | {grpc.StatusCode.DEADLINE_EXCEEDED})
    varde.example_done()


updates = st.builds(
    patients_pb2.PatientSettingsUpdate, patient_id=texts(400), spo2_scale=int32, spo2_scale_prescribed_by=texts(500),
    age=int32, birth_date=texts(30) | st.dates().map(str), pregnant=st.booleans(), measure_every_minutes=int32,
    clear=st.lists(st.sampled_from(["spo2_scale", "age", "birth_date", "pregnant", "x", ""]), max_size=3))


@FUZZ
@given(updates)
def test_patient_settings_any_update(varde, update):
    code, details, reply = status(varde.raw_unary("/varde.v1.Patients/SetPatientSettings"),
                                  update.SerializeToString())
    check(code, details)
    if code == OK:
        assert patients_pb2.PatientSettings.FromString(reply).patient_id == update.patient_id
    code, details, _ = status(varde.raw_unary("/varde.v1.Patients/GetPatientSettings"),
                              patients_pb2.PatientRef(patient_id=update.patient_id).SerializeToString())
    check(code, details)
    varde.example_done()


METHODS = ["/varde.v1.Flags/ListFlags", "/varde.v1.Flags/ClaimFlag", "/varde.v1.Flags/ResolveFlag",
           "/varde.v1.Flags/ReleaseFlag", "/varde.v1.Scoring/GetServerInfo", "/varde.v1.Patients/SetPatientSettings",
           "/varde.v1.Patients/GetPatientSettings"]
TYPES = {"ListFlags": flags_pb2.FlagFilter, "ClaimFlag": flags_pb2.ClaimRequest,
         "ResolveFlag": flags_pb2.ResolveRequest, "ReleaseFlag": flags_pb2.ReleaseRequest,
         "GetServerInfo": scoring_pb2.ServerInfoRequest, "SetPatientSettings": patients_pb2.PatientSettingsUpdate,
         "GetPatientSettings": patients_pb2.PatientRef}


@FUZZ
@given(st.sampled_from(METHODS), st.binary(max_size=200))
def test_unary_methods_any_bytes(varde, method, data):
    try:
        TYPES[method.rsplit("/", 1)[1]].FromString(data)
        decodable = True
    except DecodeError:
        decodable = False
    code, details, _ = status(varde.raw_unary(method), data)
    check(code, details, PROTO_ERRORS if decodable else UNDECODABLE_ANSWERS)
    varde.example_done()


def test_server_info(serving):
    info = serving.channel.unary_unary("/varde.v1.Scoring/GetServerInfo",
                                       request_serializer=scoring_pb2.ServerInfoRequest.SerializeToString,
                                       response_deserializer=scoring_pb2.ServerInfo.FromString)(
        scoring_pb2.ServerInfoRequest(), timeout=30)
    assert info.max_message_bytes == 64 << 20 and info.version
