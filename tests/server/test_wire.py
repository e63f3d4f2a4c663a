"""The hand-written codec for ArrowBatch and ScoredBatch agrees with the generated protobuf classes."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from varde._proto.varde.v1 import scoring_pb2
from varde._wire import ArrowBatchView, decode_arrow_batch, decode_scored_batch, encode_arrow_batch, encode_scored_batch

ids = st.text(max_size=40)
payload = st.binary(max_size=3000)


@settings(deadline=None, max_examples=300)
@given(ids, payload, st.booleans())
def test_arrow_batch_both_ways(batch_id, data, results_only):
    ours = encode_arrow_batch(ArrowBatchView(batch_id, data, results_only))
    theirs = scoring_pb2.ArrowBatch(batch_id=batch_id, arrow_ipc=data, results_only=results_only)
    assert scoring_pb2.ArrowBatch.FromString(ours) == theirs
    back = decode_arrow_batch(theirs.SerializeToString())
    assert (back.batch_id, bytes(back.arrow_ipc), back.results_only, back.error) == (batch_id, data, results_only, "")


@settings(deadline=None, max_examples=300)
@given(ids, payload, st.integers(0, 2**40), st.dictionaries(st.sampled_from(["LOW", "HIGH"]), st.integers(0, 99)),
       st.booleans())
def test_scored_batch_both_ways(batch_id, data, rows, bands, replayed):
    reply = scoring_pb2.ScoredBatch(batch_id=batch_id, flags_raised=rows % 7, flags_replayed=replayed)
    reply.summary.rows = rows
    reply.summary.bands.update(bands)
    wire = encode_scored_batch((reply, data))
    full = scoring_pb2.ScoredBatch.FromString(wire)
    assert full.arrow_ipc == data and full.batch_id == batch_id and full.summary == reply.summary
    decoded, view = decode_scored_batch(full.SerializeToString())
    assert bytes(view) == data and decoded == reply


def test_unknown_fields_are_skipped():
    wire = encode_arrow_batch(ArrowBatchView("b", b"xyz")) + b"\x20\x05" + b"\x2d\x01\x02\x03\x04"
    assert bytes(decode_arrow_batch(wire).arrow_ipc) == b"xyz"


@pytest.mark.parametrize("junk", [b"\x12\x05ab", b"\x0a\xff", b"\x0b", b"\x0a\x02\xff\xfe"])
def test_malformed_requests_say_so(junk):
    assert "not a varde.v1.ArrowBatch" in decode_arrow_batch(junk).error


def test_malformed_request_over_grpc_is_invalid_argument(server):
    with grpc.insecure_channel(server.address) as ch:
        call = ch.stream_stream("/varde.v1.Scoring/ScoreBatches", request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as info:
            list(call(iter([b"\x12\x50short"]), timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a varde.v1.ArrowBatch" in info.value.details()
