import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PatientRef(_message.Message):
    __slots__ = ("patient_id",)
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    def __init__(self, patient_id: _Optional[str] = ...) -> None: ...

class PatientSettings(_message.Message):
    __slots__ = ("patient_id", "spo2_scale", "spo2_scale_prescribed_by", "spo2_scale_prescribed_at", "age", "birth_date", "pregnant", "measure_every_minutes", "unit", "updated_by", "updated_at", "team")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SPO2_SCALE_FIELD_NUMBER: _ClassVar[int]
    SPO2_SCALE_PRESCRIBED_BY_FIELD_NUMBER: _ClassVar[int]
    SPO2_SCALE_PRESCRIBED_AT_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    PREGNANT_FIELD_NUMBER: _ClassVar[int]
    MEASURE_EVERY_MINUTES_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    spo2_scale: int
    spo2_scale_prescribed_by: str
    spo2_scale_prescribed_at: _timestamp_pb2.Timestamp
    age: int
    birth_date: str
    pregnant: bool
    measure_every_minutes: int
    unit: str
    updated_by: str
    updated_at: _timestamp_pb2.Timestamp
    team: str
    def __init__(self, patient_id: _Optional[str] = ..., spo2_scale: _Optional[int] = ..., spo2_scale_prescribed_by: _Optional[str] = ..., spo2_scale_prescribed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., age: _Optional[int] = ..., birth_date: _Optional[str] = ..., pregnant: _Optional[bool] = ..., measure_every_minutes: _Optional[int] = ..., unit: _Optional[str] = ..., updated_by: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., team: _Optional[str] = ...) -> None: ...

class PatientSettingsUpdate(_message.Message):
    __slots__ = ("patient_id", "spo2_scale", "spo2_scale_prescribed_by", "age", "birth_date", "pregnant", "measure_every_minutes", "clear", "team")
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    SPO2_SCALE_FIELD_NUMBER: _ClassVar[int]
    SPO2_SCALE_PRESCRIBED_BY_FIELD_NUMBER: _ClassVar[int]
    AGE_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    PREGNANT_FIELD_NUMBER: _ClassVar[int]
    MEASURE_EVERY_MINUTES_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    patient_id: str
    spo2_scale: int
    spo2_scale_prescribed_by: str
    age: int
    birth_date: str
    pregnant: bool
    measure_every_minutes: int
    clear: _containers.RepeatedScalarFieldContainer[str]
    team: str
    def __init__(self, patient_id: _Optional[str] = ..., spo2_scale: _Optional[int] = ..., spo2_scale_prescribed_by: _Optional[str] = ..., age: _Optional[int] = ..., birth_date: _Optional[str] = ..., pregnant: _Optional[bool] = ..., measure_every_minutes: _Optional[int] = ..., clear: _Optional[_Iterable[str]] = ..., team: _Optional[str] = ...) -> None: ...
