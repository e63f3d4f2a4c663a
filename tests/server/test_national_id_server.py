"""--validate-national-id through the server: a bad number rejects its row (batch, stream, risk) or its push."""

from __future__ import annotations

import os
import tempfile

import grpc
import pyarrow as pa
import pytest

from tests.support import Running
from varde.clients.client import VardeError
from varde.scoring import score_news2
from varde.server.config import Settings

GOOD, GOOD_2032, SYNTHETIC = "20036914700", "30108299939", "03851598730"
BAD_CONTROL, BAD_DATE = "20036914712", "29020105729"
CALM = {"resp_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 120, "pulse": 70, "consciousness": "A",
        "temperature": 37.0}
HIGH9 = {**CALM, "resp_rate": 26, "spo2": 91, "pulse": 135}


@pytest.fixture(scope="module")
def checking():
    queue = os.path.join(tempfile.mkdtemp(prefix="varde-test-"), "queue.sqlite3")
    running = Running(Settings(address="127.0.0.1:0", queue=queue, validate_national_id=True))
    yield running
    running.stop()


def test_a_bad_number_rejects_its_row_and_raises_no_flag(checking):
    ids = [GOOD, BAD_CONTROL, GOOD_2032, BAD_DATE, SYNTHETIC, None, "not-a-number"]
    table = pa.Table.from_pylist([{"patient_id": p, **HIGH9} for p in ids])
    with checking.client() as c:
        scored = c.score(table)
        flagged = {f.patient_id for f in c.list_flags()}
    reasons = scored.column("reject_reason").to_pylist()
    assert reasons == [None, "INVALID_NATIONAL_ID", None, "INVALID_NATIONAL_ID", None, "MISSING_PATIENT_ID",
                       "INVALID_NATIONAL_ID"]
    totals = scored.column("news2_total").to_pylist()
    assert [t is None for t in totals] == [r is not None for r in reasons]
    assert flagged == {GOOD, GOOD_2032, SYNTHETIC}
    # the rejected rows are exactly what a missing id gives, but for the reason
    plain = score_news2(table.set_column(0, "patient_id", pa.array([None] * len(ids), pa.string())))
    for name in ("news2_total", "news2_band", "news2_red"):
        assert scored.column(name).to_pylist()[1] == plain.column(name).to_pylist()[1]


def test_a_push_with_a_bad_number_is_invalid_argument_and_a_stream_row_is_rejected(checking):
    with checking.client() as c:
        with pytest.raises(VardeError) as info:
            c.push({"patient_id": BAD_CONTROL, **CALM})
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "INVALID_NATIONAL_ID" in info.value.details
        assert c.push({"patient_id": GOOD, **CALM}).total == 0
        answers = list(c.stream([{"patient_id": p, **CALM} for p in (GOOD, BAD_DATE, SYNTHETIC)]))
    assert [a.reject_reason for a in answers] == ["", "INVALID_NATIONAL_ID", ""]
    assert answers[1].total == 0 and answers[1].sub_scores.ByteSize() == 0 and not answers[1].band


def test_risk_rows_with_bad_numbers_are_rejected(checking):
    table = pa.table({"patient_id": [GOOD, BAD_CONTROL], "age": [91, 91],
                      "icd10": pa.array([["I50.9", "C79.9", "N18.5"]] * 2, pa.list_(pa.string()))})
    with checking.client() as c:
        scored = c.score_patients(table)
        integer_ids = pa.table({"patient_id": pa.array([20036914700], pa.int64()), "age": [50]})
        with pytest.raises(VardeError) as info:
            c.score_patients(integer_ids)
    assert scored.column("reject_reason").to_pylist() == [None, "INVALID_NATIONAL_ID"]
    assert scored.column("risk_tier").to_pylist()[1] is None and scored.column("risk_tier").to_pylist()[0]
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT and "leading zeros" in info.value.details


def test_without_the_option_any_id_is_scored():
    table = pa.Table.from_pylist([{"patient_id": p, **CALM} for p in (BAD_CONTROL, "ward-7-bed-3")])
    assert score_news2(table).column("reject_reason").to_pylist() == [None, None]
