"""ScoreBatches end to end over a real socket: round trip, splitting, order, summaries, bad requests."""

from __future__ import annotations

import grpc
import pyarrow as pa
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.support import assert_same_table, observations
from varde._proto.varde.v1 import scoring_pb2, scoring_pb2_grpc
from varde.clients.client import VardeError
from varde.scoring import RESULT_COLUMNS, score_news2


def ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write(table)
    return sink.getvalue().to_pybytes()


def replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def raw_stream(address, requests, timeout=30):
    with grpc.insecure_channel(address) as ch:
        return list(scoring_pb2_grpc.ScoringStub(ch).ScoreBatches(iter(requests), timeout=timeout))


def raw_error(address, requests):
    """The RpcError a stream ends with, and the replies that came before it."""
    got = []
    with grpc.insecure_channel(address) as ch:
        with pytest.raises(grpc.RpcError) as info:
            for reply in scoring_pb2_grpc.ScoringStub(ch).ScoreBatches(iter(requests), timeout=30):
                got.append(reply)
    return info.value, got


def test_round_trip_equals_local_scoring_row_for_row(server):
    table = observations(30_000, seed=1)
    with server.client(chunk_bytes=64 * 1024) as c:  # many requests on one stream
        remote = c.score(table)
    assert_same_table(remote, score_news2(table))


def test_large_batch_is_split_under_the_server_limit_and_keeps_order(small_limit_server):
    table = observations(60_000, seed=2)  # several MiB: far over the 256 KiB limit
    assert table.nbytes > 4 * 256 * 1024
    with small_limit_server.client() as c:
        assert c.server_info().max_message_bytes == 256 * 1024
        parts = list(c.score_batches(table, batch_id="big"))
    assert len(parts) > 4
    remote = pa.Table.from_batches([b for b, _ in parts])
    assert_same_table(remote, score_news2(table))
    assert sum(r.summary.rows for _, r in parts) == table.num_rows
    assert [r.batch_id for _, r in parts] == [f"big/{i}" for i in range(len(parts))]


def test_oversized_message_is_resource_exhausted_and_names_the_limit(small_limit_server):
    table = observations(60_000, seed=3)
    err, _ = raw_error(small_limit_server.address, [scoring_pb2.ArrowBatch(batch_id="x", arrow_ipc=ipc(table))])
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in err.details()


def test_summary_counts_match_the_scored_rows(server):
    table = observations(5_000, seed=4)
    replies = raw_stream(server.address, [scoring_pb2.ArrowBatch(batch_id="s1", arrow_ipc=ipc(table))])
    assert [r.batch_id for r in replies] == ["s1"]
    s = replies[0].summary
    local = score_news2(table)
    assert s.rows == 5_000
    assert s.rejected == local.column("reject_reason").drop_null().length() > 0
    by_reason = pa.compute.value_counts(local.column("reject_reason").drop_null().combine_chunks()).to_pylist()
    assert dict(s.rejected_by_reason) == {d["values"]: d["counts"] for d in by_reason}
    bands = pa.compute.value_counts(local.column("news2_band").drop_null().combine_chunks()).to_pylist()
    assert dict(s.bands) == {d["values"]: d["counts"] for d in bands}
    assert s.scored == 5_000 - local.column("news2_total").null_count
    assert s.red == pa.compute.sum(local.column("news2_red")).as_py()
    assert s.complete == pa.compute.sum(local.column("news2_complete")).as_py()


def test_full_reply_carries_input_columns_and_ids_in_order(server):
    a, b = observations(100, seed=5), observations(20_000, seed=6)
    replies = raw_stream(server.address, [scoring_pb2.ArrowBatch(batch_id="a", arrow_ipc=ipc(a)),
                                          scoring_pb2.ArrowBatch(batch_id="b", arrow_ipc=ipc(b)),
                                          scoring_pb2.ArrowBatch(batch_id="c", arrow_ipc=ipc(a), results_only=True)])
    assert [r.batch_id for r in replies] == ["a", "b", "c"]
    full = pa.ipc.open_stream(replies[1].arrow_ipc).read_all()
    assert_same_table(full, score_news2(b))
    only = pa.ipc.open_stream(replies[2].arrow_ipc).read_all()
    assert only.column_names == list(RESULT_COLUMNS)
    assert only.equals(score_news2(a).select(list(RESULT_COLUMNS)))


def test_bad_rows_are_data_not_errors(server):
    table = pa.table({
        "patient_id": ["p1", None, "p3"], "resp_rate": [18.0, 18.0, float("nan")], "spo2": [97, 97, 97],
        "on_oxygen": [False, False, False], "systolic_bp": [120, 120, 120], "pulse": [70, 70, 70],
        "consciousness": ["A", "A", "A"], "temperature": [37.0, 37.0, 37.0],
    })
    with server.client() as c:
        out = c.score(table)
    assert out.column("reject_reason").to_pylist() == [None, "MISSING_PATIENT_ID", "RESP_RATE_NOT_A_NUMBER"]
    assert out.column("news2_total").to_pylist() == [0, None, None]


def test_node_style_types_are_accepted(server):
    """Dictionary-encoded strings and non-nullable numerics, as apache-arrow in Node.js sends them."""
    fields = [pa.field("patient_id", pa.dictionary(pa.int32(), pa.string()), nullable=False)]
    fields += [pa.field(n, pa.float64(), nullable=False) for n in ("resp_rate", "spo2", "systolic_bp", "pulse",
                                                                  "temperature")]
    fields += [pa.field("on_oxygen", pa.bool_(), nullable=False),
               pa.field("consciousness", pa.dictionary(pa.int32(), pa.utf8()), nullable=False)]
    table = pa.table({"patient_id": pa.array(["a", "b"]).dictionary_encode(), "resp_rate": [25.0, 12.0],
                      "spo2": [91.0, 99.0], "systolic_bp": [95.0, 130.0], "pulse": [131.0, 60.0],
                      "temperature": [39.5, 36.5], "on_oxygen": [True, False],
                      "consciousness": pa.array(["V", "a"]).dictionary_encode()}, schema=pa.schema(fields))
    with server.client() as c:
        out = c.score(table)
    assert out.column("news2_total").to_pylist() == [3 + 2 + 2 + 3 + 3 + 3 + 2, 0]


@pytest.mark.parametrize(
    ("make", "code", "needle", "field"),
    [
        (lambda: b"", grpc.StatusCode.INVALID_ARGUMENT, "arrow_ipc is empty", "arrow_ipc"),
        (lambda: b"\x00" * 64, grpc.StatusCode.INVALID_ARGUMENT, "not a readable Arrow IPC stream", "arrow_ipc"),
        (lambda: b"not arrow at all, just text", grpc.StatusCode.INVALID_ARGUMENT, "Arrow IPC", "arrow_ipc"),
        (lambda: ipc(observations(1000))[:-300], grpc.StatusCode.INVALID_ARGUMENT, "Arrow IPC", "arrow_ipc"),
        (lambda: ipc(observations(10).drop_columns(["pulse"])), grpc.StatusCode.INVALID_ARGUMENT,
         "required column 'pulse' is missing", "pulse"),
        (lambda: ipc(observations(10).rename_columns(
            ["heart_rate" if n == "pulse" else n for n in observations(10).column_names])),
         grpc.StatusCode.INVALID_ARGUMENT, "rename it to 'pulse'", "pulse"),
        (lambda: ipc(replace(observations(10), "consciousness", pa.array(range(10)))),
         grpc.StatusCode.INVALID_ARGUMENT, "consciousness", "consciousness"),
        (lambda: ipc(replace(observations(10), "resp_rate", pa.array(["x"] * 10))),
         grpc.StatusCode.INVALID_ARGUMENT, "resp_rate", "resp_rate"),
    ],
    ids=["empty", "zeros", "text", "truncated", "missing-column", "alias", "wrong-type-text", "wrong-type-number"],
)
def test_bad_request_ends_the_stream_with_a_named_status_after_the_good_batches(server, make, code, needle, field):
    good = scoring_pb2.ArrowBatch(batch_id="good", arrow_ipc=ipc(observations(50)))
    err, got = raw_error(server.address, [good, scoring_pb2.ArrowBatch(batch_id="bad-7", arrow_ipc=make())])
    assert [r.batch_id for r in got] == ["good"]  # what came before the bad batch was scored and delivered
    assert err.code() == code
    assert needle in err.details() and "'bad-7'" in err.details()
    status = rpc_status.from_call(err)
    assert status is not None and status.details
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == field


def test_empty_stream_is_invalid_argument(server):
    err, got = raw_error(server.address, [])
    assert got == []
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "before its first ArrowBatch" in err.details()


def test_client_raises_varde_error_with_the_servers_reason(server):
    with server.client() as c, pytest.raises(VardeError) as info:
        c.score(observations(10).drop_columns(["spo2"]))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "'spo2' is missing" in str(info.value)


def test_schema_only_batch_scores_to_zero_rows(server):
    empty = observations(10).schema.empty_table()
    replies = raw_stream(server.address, [scoring_pb2.ArrowBatch(batch_id="e", arrow_ipc=ipc(empty))])
    assert replies[0].summary.rows == 0
    assert pa.ipc.open_stream(replies[0].arrow_ipc).read_all().num_rows == 0


def test_server_keeps_serving_after_bad_requests(server):
    for _ in range(20):
        raw_error(server.address, [scoring_pb2.ArrowBatch(batch_id="junk", arrow_ipc=b"\xff" * 100)])
    with server.client() as c:
        assert c.score(observations(200, seed=9)).num_rows == 200
