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
@given(st.lists(st.fixed_dictionaries({k: st.none() | v for k, v in COLUMNS.items()}), min_size=1, max_size=30),
       st.booleans())
def test_policy_equals_reference(rows, parallel):
    columns = {k: pa.array([r[k] for r in rows], TYPES.get(k, pa.int64())) for k in COLUMNS}
    got = apply_policy(load_policy(), columns, parallel=parallel)
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


@st.composite
def policies(draw):
    """A policy file's text: 1-7 factors over columns c0..c6 (a column may have two factors), thresholds that
    rise, points that do not fall (0 and halves included, many ties between factors)."""
    lines = ['version = "random"', "[tiers]"]
    tiers = sorted(draw(st.lists(st.integers(1, 12), min_size=3, max_size=3, unique=True)))
    lines += ["LOW = 0", f"MODERATE = {tiers[0]}", f"HIGH = {tiers[1]}", f"VERY_HIGH = {tiers[2]}"]
    for k in range(draw(st.integers(1, 7))):
        values = sorted(draw(st.lists(st.integers(-3, 12), min_size=1, max_size=5, unique=True)))
        points = sorted(draw(st.lists(st.sampled_from([0, 0.5, 1, 2, 3]), min_size=len(values),
                                      max_size=len(values))))
        pairs = ", ".join(f"[{v}, {p}]" for v, p in zip(values, points, strict=True))
        lines += ["[[factor]]", f'column = "c{draw(st.integers(0, 6))}"', f"thresholds = [{pairs}]",
                  f'reason = "factor {k}: {{value}}"']
    return "\n".join(lines) + "\n"


@settings(deadline=None, max_examples=200)
@given(policies(), st.lists(st.lists(st.none() | st.integers(-5, 15), min_size=7, max_size=7), min_size=1,
                            max_size=25), st.booleans())
def test_any_policy_equals_reference(text, rows, parallel):
    """Points, tier and reasons (most points first, file order on ties, at most three) for random policies."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.toml"
        path.write_text(text)
        columns = {f"c{j}": pa.array([r[j] for r in rows], pa.int64()) for j in range(7)}
        got = apply_policy(load_policy(path), columns, parallel=parallel)
        for i, r in enumerate(rows):
            name, points, reasons = tier(path, {f"c{j}": r[j] for j in range(7)})
            assert (got["risk_tier"][i].as_py(), got["risk_points"][i].as_py(),
                    got["risk_reasons"][i].as_py()) == (name, points, reasons), (text, r)


def test_many_blocks_of_patients_equal_reference():
    """The parallel pass over blocks of rows: 3 blocks and a bit, every row checked."""
    import random

    from varde.scoring.risk import _policy_kernel

    rng = random.Random(7)
    n = 3 * _policy_kernel.BLOCK + 5
    rows = [{k: None if rng.random() < 0.1 else (round(rng.random(), 3) if k == "efi" else
                                                 rng.random() < 0.5 if k == "lives_alone" else rng.randint(0, 12))
             for k in COLUMNS} for _ in range(n)]
    columns = {k: pa.array([r[k] for r in rows], TYPES.get(k, pa.int64())) for k in COLUMNS}
    got = apply_policy(load_policy(), columns, parallel=True)
    tiers, points, reasons = (got[k].to_pylist() for k in ("risk_tier", "risk_points", "risk_reasons"))
    for i, row in enumerate(rows):
        assert (tiers[i], points[i], reasons[i]) == tier(DEFAULT_POLICY, row), row
