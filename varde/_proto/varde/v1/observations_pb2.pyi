import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Band(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BAND_UNSPECIFIED: _ClassVar[Band]
    BAND_ZERO: _ClassVar[Band]
    BAND_LOW: _ClassVar[Band]
    BAND_LOW_MEDIUM: _ClassVar[Band]
    BAND_MEDIUM: _ClassVar[Band]
    BAND_HIGH: _ClassVar[Band]
BAND_UNSPECIFIED: Band
BAND_ZERO: Band
BAND_LOW: Band
BAND_LOW_MEDIUM: Band
BAND_MEDIUM: Band
BAND_HIGH: Band

class ObservationBatch(_message.Message):
    __slots__ = ("observations",)
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    observations: _containers.RepeatedCompositeFieldContainer[Observation]
    def __init__(self, observations: _Optional[_Iterable[_Union[Observation, _Mapping]]] = ...) -> None: ...

class AssessmentBatch(_message.Message):
    __slots__ = ("assessments",)
    ASSESSMENTS_FIELD_NUMBER: _ClassVar[int]
    assessments: _containers.RepeatedCompositeFieldContainer[Assessment]
    def __init__(self, assessments: _Optional[_Iterable[_Union[Assessment, _Mapping]]] = ...) -> None: ...

class Observation(_message.Message):
    __slots__ = ("patient_id", "observed_at", "resp_rate", "spo2", "spo2_scale", "on_oxygen", "systolic_bp", "pulse", "consciousness", "temperature", "age", "pregnant", "source", "reported_news2_total")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    RESP_RATE_FIELD_NUMBER: _ClassVar[int]
    SPO2_FIELD_NUMBER: _ClassVar[int]
    SPO2_SCALE_FIELD_NUMBER: _ClassVar[int]
    ON_OXYGEN_FIELD_NUMBER: _ClassVar[int]
    SYSTOLIC_BP_FIELD_NUMBER: _ClassVar[int]
    PULSE_FIELD_NUMBER: _ClassVar[int]
    CONSCIOUSNESS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    PREGNANT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REPORTED_NEWS2_TOTAL_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    observed_at: _timestamp_pb2.Timestamp
    resp_rate: float
    spo2: float
    spo2_scale: int
    on_oxygen: bool
    systolic_bp: float
    pulse: float
    consciousness: str
    temperature: float
    age: int
    pregnant: bool
    source: str
    reported_news2_total: int
    def __init__(self, patient_id: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resp_rate: _Optional[float] = ..., spo2: _Optional[float] = ..., spo2_scale: _Optional[int] = ..., on_oxygen: _Optional[bool] = ..., systolic_bp: _Optional[float] = ..., pulse: _Optional[float] = ..., consciousness: _Optional[str] = ..., temperature: _Optional[float] = ..., age: _Optional[int] = ..., pregnant: _Optional[bool] = ..., source: _Optional[str] = ..., reported_news2_total: _Optional[int] = ...) -> None: ...

class SubScores(_message.Message):
    __slots__ = ("resp_rate", "spo2", "air_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")
    RESP_RATE_FIELD_NUMBER: _ClassVar[int]
    SPO2_FIELD_NUMBER: _ClassVar[int]
    AIR_OXYGEN_FIELD_NUMBER: _ClassVar[int]
    SYSTOLIC_BP_FIELD_NUMBER: _ClassVar[int]
    PULSE_FIELD_NUMBER: _ClassVar[int]
    CONSCIOUSNESS_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    resp_rate: int
    spo2: int
    air_oxygen: int
    systolic_bp: int
    pulse: int
    consciousness: int
    temperature: int
    def __init__(self, resp_rate: _Optional[int] = ..., spo2: _Optional[int] = ..., air_oxygen: _Optional[int] = ..., systolic_bp: _Optional[int] = ..., pulse: _Optional[int] = ..., consciousness: _Optional[int] = ..., temperature: _Optional[int] = ...) -> None: ...

class Assessment(_message.Message):
    __slots__ = ("patient_id", "observed_at", "sub_scores", "total", "band", "red", "complete", "missing", "monitoring", "applicable", "not_applicable_reason", "reject_reason", "flag_ids", "rising", "assembled", "set_started_at", "parts")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    SUB_SCORES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    RED_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    MONITORING_FIELD_NUMBER: _ClassVar[int]
    APPLICABLE_FIELD_NUMBER: _ClassVar[int]
    NOT_APPLICABLE_REASON_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    FLAG_IDS_FIELD_NUMBER: _ClassVar[int]
    RISING_FIELD_NUMBER: _ClassVar[int]
    ASSEMBLED_FIELD_NUMBER: _ClassVar[int]
    SET_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    observed_at: _timestamp_pb2.Timestamp
    sub_scores: SubScores
    total: int
    band: Band
    red: bool
    complete: bool
    missing: _containers.RepeatedScalarFieldContainer[str]
    monitoring: str
    applicable: bool
    not_applicable_reason: str
    reject_reason: str
    flag_ids: _containers.RepeatedScalarFieldContainer[int]
    rising: bool
    assembled: bool
    set_started_at: _timestamp_pb2.Timestamp
    parts: _containers.RepeatedCompositeFieldContainer[SetPart]
    def __init__(self, patient_id: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sub_scores: _Optional[_Union[SubScores, _Mapping]] = ..., total: _Optional[int] = ..., band: _Optional[_Union[Band, str]] = ..., red: _Optional[bool] = ..., complete: _Optional[bool] = ..., missing: _Optional[_Iterable[str]] = ..., monitoring: _Optional[str] = ..., applicable: _Optional[bool] = ..., not_applicable_reason: _Optional[str] = ..., reject_reason: _Optional[str] = ..., flag_ids: _Optional[_Iterable[int]] = ..., rising: _Optional[bool] = ..., assembled: _Optional[bool] = ..., set_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[SetPart, _Mapping]]] = ...) -> None: ...

class SetPart(_message.Message):
    __slots__ = ("parameter", "measured_at", "device")
    PARAMETER_FIELD_NUMBER: _ClassVar[int]
    MEASURED_AT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    parameter: str
    measured_at: _timestamp_pb2.Timestamp
    device: str
    def __init__(self, parameter: _Optional[str] = ..., measured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., device: _Optional[str] = ...) -> None: ...
