from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("version", "max_message_bytes", "serial_below", "max_observations_per_batch")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SERIAL_BELOW_FIELD_NUMBER: _ClassVar[int]
    MAX_OBSERVATIONS_PER_BATCH_FIELD_NUMBER: _ClassVar[int]
    version: str
    max_message_bytes: int
    serial_below: int
    max_observations_per_batch: int
    def __init__(self, version: _Optional[str] = ..., max_message_bytes: _Optional[int] = ..., serial_below: _Optional[int] = ..., max_observations_per_batch: _Optional[int] = ...) -> None: ...

class ArrowBatch(_message.Message):
    __slots__ = ("batch_id", "arrow_ipc", "results_only")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    RESULTS_ONLY_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    arrow_ipc: bytes
    results_only: bool
    def __init__(self, batch_id: _Optional[str] = ..., arrow_ipc: _Optional[bytes] = ..., results_only: _Optional[bool] = ...) -> None: ...

class ScoredBatch(_message.Message):
    __slots__ = ("batch_id", "arrow_ipc", "summary", "flags_raised", "flags_updated", "flags_replayed")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ARROW_IPC_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    FLAGS_RAISED_FIELD_NUMBER: _ClassVar[int]
    FLAGS_UPDATED_FIELD_NUMBER: _ClassVar[int]
    FLAGS_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    arrow_ipc: bytes
    summary: BatchSummary
    flags_raised: int
    flags_updated: int
    flags_replayed: bool
    def __init__(self, batch_id: _Optional[str] = ..., arrow_ipc: _Optional[bytes] = ..., summary: _Optional[_Union[BatchSummary, _Mapping]] = ..., flags_raised: _Optional[int] = ..., flags_updated: _Optional[int] = ..., flags_replayed: _Optional[bool] = ...) -> None: ...

class BatchSummary(_message.Message):
    __slots__ = ("rows", "scored", "not_applicable", "rejected", "rejected_by_reason", "bands", "red", "complete", "tiers", "unmet_need")
    class RejectedByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class BandsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class TiersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SCORED_FIELD_NUMBER: _ClassVar[int]
    NOT_APPLICABLE_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    RED_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    UNMET_NEED_FIELD_NUMBER: _ClassVar[int]
    rows: int
    scored: int
    not_applicable: int
    rejected: int
    rejected_by_reason: _containers.ScalarMap[str, int]
    bands: _containers.ScalarMap[str, int]
    red: int
    complete: int
    tiers: _containers.ScalarMap[str, int]
    unmet_need: int
    def __init__(self, rows: _Optional[int] = ..., scored: _Optional[int] = ..., not_applicable: _Optional[int] = ..., rejected: _Optional[int] = ..., rejected_by_reason: _Optional[_Mapping[str, int]] = ..., bands: _Optional[_Mapping[str, int]] = ..., red: _Optional[int] = ..., complete: _Optional[int] = ..., tiers: _Optional[_Mapping[str, int]] = ..., unmet_need: _Optional[int] = ...) -> None: ...
