"""House rules that keep the kernels consistent: one place for JIT options, codes in step with the schema."""

import pathlib
import re

import varde.scoring as scoring
from varde.scoring import _news2_kernel as K
from varde.scoring import schema

ROOT = pathlib.Path(scoring.__file__).parent


def test_no_kernel_sets_its_own_jit_options():
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path.name == "_jit.py":
            continue
        text = path.read_text()
        if re.search(r"\bnumba\.(njit|jit)\b|from numba import .*\b(njit|jit)\b|@njit|@jit\b", text):
            offenders.append(path.name)
    assert offenders == []


def test_public_names():
    assert sorted(scoring.__all__) == ["RESULT_COLUMNS", "SchemaError", "score_news2", "warm_up"]
    for name in scoring.__all__:
        assert hasattr(scoring, name)


def test_reject_codes_match_kernel_constants():
    for i, name in enumerate(schema.REJECT_REASONS):
        assert getattr(K, name) == i, name


def test_band_and_monitoring_tables_follow_chart_4():
    # band index -> monitoring text
    assert [schema.MONITORING[m] for m in K.MONITORING_OF_BAND] == [
        "12-hourly", "4-6-hourly", "1-hourly", "1-hourly", "continuous"
    ]
    assert schema.BANDS == ("ZERO", "LOW", "LOW_MEDIUM", "MEDIUM", "HIGH")


def test_missing_names_in_chart_order():
    assert schema.MISSING_NAMES[0] == ""
    assert schema.MISSING_NAMES[1 | 4] == "resp_rate;air_oxygen"
    assert schema.MISSING_NAMES[127].split(";") == list(schema.PARAMETERS)


def test_kernels_compile_one_signature_each():
    scoring.warm_up()
    assert len(K.news2_parallel.signatures) == 1
    assert len(K.news2_serial.signatures) == 1
    # string and large_string offsets
    assert len(K.letters_serial.signatures) <= 2
