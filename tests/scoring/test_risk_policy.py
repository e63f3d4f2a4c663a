"""The risk tier and its reasons: column-wise policy against a per-patient reading of the same TOML file."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reference.policy import tier
from varde.scoring.risk.policy import DEFAULT_POLICY, PolicyError, apply_policy, load_policy

COLUMNS = {
    "charlson_quan2011": st.integers(0, 24),
    "efi": st.floats(0, 1).map(lambda x: round(x, 3)),
    "admissions_12m": st.integers(0, 8),
    "emergency_visits_12m": st.integers(0, 8),
    "polypharmacy_count": st.integers(0, 20),
    "multimorbidity": st.integers(0, 12),
    "age": st.integers(0, 110),
    "lives_alone": st.booleans(),
}
TYPES = {"efi": pa.float64(), "lives_alone": pa.bool_()}


@settings(deadline=None, max_examples=300)
@given(st.lists(st.fixed_dictionaries({k: st.none() | v for k, v in COLUMNS.items()}), min_size=1, max_size=30))
def test_policy_equals_reference(rows):
    columns = {k: pa.array([r[k] for r in rows], TYPES.get(k, pa.int64())) for k in COLUMNS}
    got = apply_policy(load_policy(), columns)
    for i, row in enumerate(rows):
        name, points, reasons = tier(DEFAULT_POLICY, row)
        assert got["risk_tier"][i].as_py() == name
        assert got["risk_points"][i].as_py() == points
        assert got["risk_reasons"][i].as_py() == reasons, row
        assert got["risk_policy"][i].as_py() == "varde-default-2026.11"


def test_tier_boundaries_by_hand():
    # 6 points exactly is HIGH; 5 is MODERATE; 9 is VERY_HIGH; 2 is LOW
    cases = [({"charlson_quan2011": 6, "admissions_12m": 3}, "HIGH"), ({"charlson_quan2011": 6, "age": 85}, "MODERATE"),
             ({"charlson_quan2011": 8, "efi": 0.37, "admissions_12m": 2}, "VERY_HIGH"), ({"age": 85}, "LOW"),
             ({"efi": 0.13, "age": 75, "lives_alone": True}, "MODERATE")]
    for row, expected in cases:
        columns = {k: pa.array([v]) for k, v in row.items()}
        assert apply_policy(load_policy(), columns)["risk_tier"].to_pylist() == [expected], row


@pytest.mark.parametrize(("text", "needle"), [
    ("version = 'x'\n[tiers]\nLOW = 0\n", "[tiers] must give"),
    ("[tiers]\nLOW=0\nMODERATE=1\nHIGH=2\nVERY_HIGH=3\n[[factor]]\ncolumn='age'\nthresholds=[[1,1]]\nreason='x'\n",
     "needs a version"),
    ("version='x'\n[tiers]\nLOW=0\nMODERATE=3\nHIGH=2\nVERY_HIGH=9\n[[factor]]\ncolumn='age'\nthresholds=[[1,1]]\n"
     "reason='x'\n", "must start at LOW = 0 and rise"),
    ("version='x'\n[tiers]\nLOW=0\nMODERATE=1\nHIGH=2\nVERY_HIGH=3\n[[factor]]\ncolumn='age'\n"
     "thresholds=[[80,1],[70,2]]\nreason='x'\n", "threshold values must rise"),
    ("version='x'\n[tiers]\nLOW=0\nMODERATE=1\nHIGH=2\nVERY_HIGH=3\n[[factor]]\ncolumn='age'\n"
     "thresholds=[[80,1]]\nreason='age {years}'\n", "may use {value}"),
    ("version='x'\n[tiers]\nLOW=0\nMODERATE=1\nHIGH=2\nVERY_HIGH=3\n", "has no [[factor]]"),
    ("this is not toml = = =", "not valid TOML"),
])
def test_a_bad_policy_file_says_what_to_fix(tmp_path, text, needle):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=needle.replace("[", r"\[").replace("{", r"\{").replace("}", r"\}")):
        load_policy(path)
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


def test_decimals_in_reasons_round_half_away_from_zero_as_written():
    from varde.scoring.risk.policy import _format

    got = _format(pa.array([0.445, 0.125, 0.3, 1.005, 0.0, None]), ".2f").to_pylist()
    assert got == ["0.45", "0.13", "0.30", "1.01", "0.00", None]
