import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlagState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLAG_STATE_UNSPECIFIED: _ClassVar[FlagState]
    OPEN: _ClassVar[FlagState]
    CLAIMED: _ClassVar[FlagState]
    RESOLVED: _ClassVar[FlagState]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    LOW: _ClassVar[Severity]
    MEDIUM: _ClassVar[Severity]
    HIGH: _ClassVar[Severity]
FLAG_STATE_UNSPECIFIED: FlagState
OPEN: FlagState
CLAIMED: FlagState
RESOLVED: FlagState
SEVERITY_UNSPECIFIED: Severity
LOW: Severity
MEDIUM: Severity
HIGH: Severity

class Flag(_message.Message):
    __slots__ = ("id", "patient_id", "kind", "severity", "state", "assessment_json", "source", "occurrences", "created_at", "updated_at", "claimed_by", "claimed_at", "resolution_note", "resolved_at", "unit", "outcome", "release_reason", "escalation_level", "isbar")
    ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ASSESSMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_BY_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_NOTE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RELEASE_REASON_FIELD_NUMBER: _ClassVar[int]
    ESCALATION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ISBAR_FIELD_NUMBER: _ClassVar[int]
    id: int
    patient_id: str
    kind: str
    severity: Severity
    state: FlagState
    assessment_json: str
    source: str
    occurrences: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    claimed_by: str
    claimed_at: _timestamp_pb2.Timestamp
    resolution_note: str
    resolved_at: _timestamp_pb2.Timestamp
    unit: str
    outcome: str
    release_reason: str
    escalation_level: int
    isbar: Isbar
    def __init__(self, id: _Optional[int] = ..., patient_id: _Optional[str] = ..., kind: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., state: _Optional[_Union[FlagState, str]] = ..., assessment_json: _Optional[str] = ..., source: _Optional[str] = ..., occurrences: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_by: _Optional[str] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution_note: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unit: _Optional[str] = ..., outcome: _Optional[str] = ..., release_reason: _Optional[str] = ..., escalation_level: _Optional[int] = ..., isbar: _Optional[_Union[Isbar, _Mapping]] = ...) -> None: ...

class Isbar(_message.Message):
    __slots__ = ("text_nb", "text_en", "json", "response_policy_version", "response_policy_reviewed")
    TEXT_NB_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_POLICY_REVIEWED_FIELD_NUMBER: _ClassVar[int]
    text_nb: str
    text_en: str
    json: str
    response_policy_version: str
    response_policy_reviewed: bool
    def __init__(self, text_nb: _Optional[str] = ..., text_en: _Optional[str] = ..., json: _Optional[str] = ..., response_policy_version: _Optional[str] = ..., response_policy_reviewed: _Optional[bool] = ...) -> None: ...

class GetFlagRequest(_message.Message):
    __slots__ = ("flag_id",)
    FLAG_ID_FIELD_NUMBER: _ClassVar[int]
    flag_id: int
    def __init__(self, flag_id: _Optional[int] = ...) -> None: ...

class FlagFilter(_message.Message):
    __slots__ = ("states", "kinds", "patient_id", "min_severity", "limit")
    STATES_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    PATIENT_ID_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[FlagState]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    patient_id: str
    min_severity: Severity
    limit: int
    def __init__(self, states: _Optional[_Iterable[_Union[FlagState, str]]] = ..., kinds: _Optional[_Iterable[str]] = ..., patient_id: _Optional[str] = ..., min_severity: _Optional[_Union[Severity, str]] = ..., limit: _Optional[int] = ...) -> None: ...

class FlagList(_message.Message):
    __slots__ = ("flags",)
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    flags: _containers.RepeatedCompositeFieldContainer[Flag]
    def __init__(self, flags: _Optional[_Iterable[_Union[Flag, _Mapping]]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("filter", "after_cursor")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    filter: FlagFilter
    after_cursor: int
    def __init__(self, filter: _Optional[_Union[FlagFilter, _Mapping]] = ..., after_cursor: _Optional[int] = ...) -> None: ...

class FlagEvent(_message.Message):
    __slots__ = ("type", "flag", "cursor")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[FlagEvent.Type]
        EXISTING: _ClassVar[FlagEvent.Type]
        RAISED: _ClassVar[FlagEvent.Type]
        UPDATED: _ClassVar[FlagEvent.Type]
        CLAIMED: _ClassVar[FlagEvent.Type]
        RELEASED: _ClassVar[FlagEvent.Type]
        RESOLVED: _ClassVar[FlagEvent.Type]
        CAUGHT_UP: _ClassVar[FlagEvent.Type]
        ESCALATED: _ClassVar[FlagEvent.Type]
        REMINDED: _ClassVar[FlagEvent.Type]
        NOTED: _ClassVar[FlagEvent.Type]
    TYPE_UNSPECIFIED: FlagEvent.Type
    EXISTING: FlagEvent.Type
    RAISED: FlagEvent.Type
    UPDATED: FlagEvent.Type
    CLAIMED: FlagEvent.Type
    RELEASED: FlagEvent.Type
    RESOLVED: FlagEvent.Type
    CAUGHT_UP: FlagEvent.Type
    ESCALATED: FlagEvent.Type
    REMINDED: FlagEvent.Type
    NOTED: FlagEvent.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    type: FlagEvent.Type
    flag: Flag
    cursor: int
    def __init__(self, type: _Optional[_Union[FlagEvent.Type, str]] = ..., flag: _Optional[_Union[Flag, _Mapping]] = ..., cursor: _Optional[int] = ...) -> None: ...

class ClaimRequest(_message.Message):
    __slots__ = ("flag_id", "coordinator")
    FLAG_ID_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    flag_id: int
    coordinator: str
    def __init__(self, flag_id: _Optional[int] = ..., coordinator: _Optional[str] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("flag_id", "coordinator", "note", "outcome")
    FLAG_ID_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    flag_id: int
    coordinator: str
    note: str
    outcome: str
    def __init__(self, flag_id: _Optional[int] = ..., coordinator: _Optional[str] = ..., note: _Optional[str] = ..., outcome: _Optional[str] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("flag_id", "coordinator", "reason")
    FLAG_ID_FIELD_NUMBER: _ClassVar[int]
    COORDINATOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    flag_id: int
    coordinator: str
    reason: str
    def __init__(self, flag_id: _Optional[int] = ..., coordinator: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
