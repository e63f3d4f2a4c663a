"""The slow, obviously correct twin of ``varde.scoring.score_news2``.

Written straight from docs/news2.md (Royal College of Physicians, *National Early Warning Score (NEWS) 2*,
London 2017: Chart 1 for the bands, Table 2 / Chart 4 for the thresholds and monitoring), one row at a time in
plain Python, with no code shared with the kernel: the column names and codes are spelled out again here so
that a rename in ``scoring/schema.py`` is caught by the comparison, not silently followed.

Values come in as Python values (``None`` = null). A float's own type matters for quantisation (docs/news2.md,
"Quantisation of decimal values"), so float32 values are passed as ``numpy.float32`` scalars; Python ``float``
and ``numpy.float64`` mean float64; ``int`` (and numpy integers) are exact. ``score_table`` does this for you.
"""

from __future__ import annotations

import math
import numbers
from decimal import ROUND_HALF_UP, Context, Decimal

import numpy as np
import pyarrow as pa

__all__ = ["PARAMETERS", "RESULT_COLUMNS", "quantise", "score_row", "score_table"]

PARAMETERS = ("resp_rate", "spo2", "air_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")

RESULT_COLUMNS = (
    "news2_resp_rate",
    "news2_spo2",
    "news2_air_oxygen",
    "news2_systolic_bp",
    "news2_pulse",
    "news2_consciousness",
    "news2_temperature",
    "news2_total",
    "news2_band",
    "news2_red",
    "news2_complete",
    "news2_missing",
    "news2_applicable",
    "news2_not_applicable_reason",
    "news2_monitoring",
    "reject_reason",
)

# The columns the score reads (docs/news2.md, "Input"); observed_at only passes through.
INPUT_COLUMNS = ("patient_id", "resp_rate", "spo2", "on_oxygen", "systolic_bp", "pulse", "consciousness",
                 "temperature", "spo2_scale", "age", "pregnant")

MONITORING = {
    "ZERO": "12-hourly",
    "LOW": "4-6-hourly",
    "LOW_MEDIUM": "1-hourly",
    "MEDIUM": "1-hourly",
    "HIGH": "continuous",
}

ALERT = "alert"
NOT_ALERT = "not alert"
# docs/news2.md, "Consciousness": the letters, the English words and the Norwegian words, compared after
# lower-casing and stripping surrounding white space.
CONSCIOUSNESS = {
    "a": ALERT,
    "alert": ALERT,
    "våken": ALERT,
    "c": NOT_ALERT,
    "confused": NOT_ALERT,
    "confusion": NOT_ALERT,
    "new confusion": NOT_ALERT,
    "ny forvirring": NOT_ALERT,
    "forvirret": NOT_ALERT,
    "v": NOT_ALERT,
    "voice": NOT_ALERT,
    "tiltale": NOT_ALERT,
    "p": NOT_ALERT,
    "pain": NOT_ALERT,
    "smerte": NOT_ALERT,
    "u": NOT_ALERT,
    "unresponsive": NOT_ALERT,
    "ingen respons": NOT_ALERT,
    "ikke kontaktbar": NOT_ALERT,
}

ONE = Decimal("1")
TENTH = Decimal("0.1")
NOT_A_NUMBER = "not a number"  # marker for NaN and +-infinity
# Enough digits for any float64 (about 1.8e308) at a resolution of 0.1.
_CONTEXT = Context(prec=1000)


def _exact_decimal(value) -> Decimal | str:
    """The decimal the sender meant: the shortest decimal that round-trips the value in its own type."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"a numeric column holds a bool: {value!r}")
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    if isinstance(value, np.float32):
        if not np.isfinite(value):
            return NOT_A_NUMBER
        return Decimal(str(value))  # numpy's str of a float32 is its shortest round-trip decimal
    if isinstance(value, (float, np.float64)):
        if not math.isfinite(value):
            return NOT_A_NUMBER
        return Decimal(repr(float(value)))
    raise TypeError(f"unsupported numeric value {value!r} of type {type(value).__name__}")


def quantise(value, step: Decimal) -> Decimal | str | None:
    """None for null, NOT_A_NUMBER for NaN/inf, else the value rounded to ``step`` half away from zero."""
    if value is None:
        return None
    exact = _exact_decimal(value)
    if exact is NOT_A_NUMBER:
        return NOT_A_NUMBER
    # decimal's ROUND_HALF_UP rounds half away from zero (-0.5 -> -1).
    return exact.quantize(step, rounding=ROUND_HALF_UP, context=_CONTEXT)


def _score_resp_rate(r: Decimal) -> int:
    if r <= 8:
        return 3
    elif 9 <= r <= 11:
        return 1
    elif 12 <= r <= 20:
        return 0
    elif 21 <= r <= 24:
        return 2
    elif r >= 25:
        return 3
    raise AssertionError(r)


def _score_spo2_scale1(s: Decimal) -> int:
    if s <= 91:
        return 3
    elif 92 <= s <= 93:
        return 2
    elif 94 <= s <= 95:
        return 1
    elif s >= 96:
        return 0
    raise AssertionError(s)


def _score_spo2_scale2(s: Decimal, on_oxygen: bool | None) -> int:
    # on_oxygen None (not recorded): SpO2 >= 93 is scored as on air, the lower bound (docs/news2.md).
    if s <= 83:
        return 3
    elif 84 <= s <= 85:
        return 2
    elif 86 <= s <= 87:
        return 1
    elif 88 <= s <= 92:
        return 0
    elif s >= 93 and on_oxygen is not True:
        return 0
    elif 93 <= s <= 94:
        return 1
    elif 95 <= s <= 96:
        return 2
    elif s >= 97:
        return 3
    raise AssertionError(s)


def _score_systolic_bp(b: Decimal) -> int:
    if b <= 90:
        return 3
    elif 91 <= b <= 100:
        return 2
    elif 101 <= b <= 110:
        return 1
    elif 111 <= b <= 219:
        return 0
    elif b >= 220:
        return 3
    raise AssertionError(b)


def _score_pulse(p: Decimal) -> int:
    if p <= 40:
        return 3
    elif 41 <= p <= 50:
        return 1
    elif 51 <= p <= 90:
        return 0
    elif 91 <= p <= 110:
        return 1
    elif 111 <= p <= 130:
        return 2
    elif p >= 131:
        return 3
    raise AssertionError(p)


def _score_temperature(t: Decimal) -> int:
    if t <= Decimal("35.0"):
        return 3
    elif Decimal("35.1") <= t <= Decimal("36.0"):
        return 1
    elif Decimal("36.1") <= t <= Decimal("38.0"):
        return 0
    elif Decimal("38.1") <= t <= Decimal("39.0"):
        return 1
    elif t >= Decimal("39.1"):
        return 2
    raise AssertionError(t)


def _outside(value: Decimal, low, high) -> bool:
    return not (Decimal(low) <= value <= Decimal(high))


def _reject_reason(row: dict) -> str | None:
    resp = quantise(row.get("resp_rate"), ONE)
    spo2 = quantise(row.get("spo2"), ONE)
    scale = row.get("spo2_scale")
    on_oxygen = row.get("on_oxygen")
    sbp = quantise(row.get("systolic_bp"), ONE)
    pulse = quantise(row.get("pulse"), ONE)
    consciousness = row.get("consciousness")
    temp = quantise(row.get("temperature"), TENTH)
    age = row.get("age")

    if row.get("patient_id") is None:
        return "MISSING_PATIENT_ID"
    if resp is NOT_A_NUMBER:
        return "RESP_RATE_NOT_A_NUMBER"
    if resp is not None and _outside(resp, 1, 80):
        return "RESP_RATE_OUT_OF_RANGE"
    if spo2 is NOT_A_NUMBER:
        return "SPO2_NOT_A_NUMBER"
    if spo2 is not None and _outside(spo2, 0, 100):
        return "SPO2_OUT_OF_RANGE"
    if scale is not None and not (scale == 1 or scale == 2):  # NaN equals neither
        return "SPO2_SCALE_INVALID"
    if on_oxygen is not None and not isinstance(on_oxygen, (bool, np.bool_)) and on_oxygen not in (0, 1):
        return "ON_OXYGEN_INVALID"
    if sbp is NOT_A_NUMBER:
        return "SYSTOLIC_BP_NOT_A_NUMBER"
    if sbp is not None and _outside(sbp, 1, 300):
        return "SYSTOLIC_BP_OUT_OF_RANGE"
    if pulse is NOT_A_NUMBER:
        return "PULSE_NOT_A_NUMBER"
    if pulse is not None and _outside(pulse, 1, 300):
        return "PULSE_OUT_OF_RANGE"
    if consciousness is not None and consciousness.strip().lower() not in CONSCIOUSNESS:
        return "UNKNOWN_CONSCIOUSNESS"
    if temp is NOT_A_NUMBER:
        return "TEMPERATURE_NOT_A_NUMBER"
    if temp is not None and Decimal("86.0") <= temp <= Decimal("113.0"):
        return "TEMPERATURE_LIKELY_FAHRENHEIT"
    if temp is not None and _outside(temp, "20.0", "45.0"):
        return "TEMPERATURE_OUT_OF_RANGE"
    # Age is not rounded (15.9 is under 16); infinity is outside 0-130.
    if age is not None and (math.isnan(age) or not (0 <= age <= 130)):
        return "AGE_OUT_OF_RANGE"
    if all(row.get(c) is None for c in ("resp_rate", "spo2", "on_oxygen", "systolic_bp", "pulse",
                                        "consciousness", "temperature")):
        return "NO_VITAL_SIGNS"
    return None


def _not_applicable_reason(row: dict) -> str | None:
    age = row.get("age")
    pregnant = row.get("pregnant")
    if age is not None and age < 16:
        return "UNDER_16"
    if pregnant is not None and bool(pregnant):
        return "PREGNANT"
    return None


def score_row(row: dict) -> dict:
    """Every result column of docs/news2.md for one observation set, as Python values (None for null)."""
    out = dict.fromkeys(RESULT_COLUMNS)

    reject = _reject_reason(row)
    if reject is not None:
        out["reject_reason"] = reject
        return out  # everything else null, news2_applicable included

    not_applicable = _not_applicable_reason(row)
    if not_applicable is not None:
        out["news2_applicable"] = False
        out["news2_not_applicable_reason"] = not_applicable
        return out

    on_oxygen = row.get("on_oxygen")
    if on_oxygen is not None:
        on_oxygen = bool(on_oxygen)  # an integer 0/1 passed the reject check
    scale = row.get("spo2_scale")
    scale = 2 if scale is not None and scale == 2 else 1  # null or absent = scale 1

    items: dict[str, int | None] = dict.fromkeys(PARAMETERS)
    resp = quantise(row.get("resp_rate"), ONE)
    if resp is not None:
        items["resp_rate"] = _score_resp_rate(resp)
    spo2 = quantise(row.get("spo2"), ONE)
    if spo2 is not None:
        if scale == 1:
            items["spo2"] = _score_spo2_scale1(spo2)
        else:
            items["spo2"] = _score_spo2_scale2(spo2, on_oxygen)
    if on_oxygen is True:
        items["air_oxygen"] = 2
    elif on_oxygen is False:
        items["air_oxygen"] = 0
    sbp = quantise(row.get("systolic_bp"), ONE)
    if sbp is not None:
        items["systolic_bp"] = _score_systolic_bp(sbp)
    pulse = quantise(row.get("pulse"), ONE)
    if pulse is not None:
        items["pulse"] = _score_pulse(pulse)
    consciousness = row.get("consciousness")
    if consciousness is not None:
        items["consciousness"] = 0 if CONSCIOUSNESS[consciousness.strip().lower()] == ALERT else 3
    temp = quantise(row.get("temperature"), TENTH)
    if temp is not None:
        items["temperature"] = _score_temperature(temp)

    present = [points for points in items.values() if points is not None]
    total = sum(present)
    red = any(points == 3 for points in present)
    if total >= 7:
        band = "HIGH"
    elif total >= 5:
        band = "MEDIUM"
    elif red:
        band = "LOW_MEDIUM"
    elif total >= 1:
        band = "LOW"
    else:
        band = "ZERO"
    missing = [name for name in PARAMETERS if items[name] is None]

    for name in PARAMETERS:
        out[f"news2_{name}"] = items[name]
    out["news2_total"] = total
    out["news2_band"] = band
    out["news2_red"] = red
    out["news2_complete"] = not missing
    out["news2_missing"] = ";".join(missing) if missing else None
    out["news2_applicable"] = True
    out["news2_not_applicable_reason"] = None
    out["news2_monitoring"] = MONITORING[band]
    out["reject_reason"] = None
    return out


def table_rows(table: pa.Table | pa.RecordBatch) -> list[dict]:
    """The input columns of an Arrow table as rows of Python values, float32 values kept as numpy.float32."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    columns = {}
    for name in table.column_names:
        if name not in INPUT_COLUMNS:
            continue  # passed through by the kernel, never read
        column = table.column(name)
        value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        values = column.to_pylist()
        if pa.types.is_float16(value_type):
            raise NotImplementedError("the reference does not define quantisation for float16")
        if pa.types.is_float32(value_type):
            values = [None if v is None else np.float32(v) for v in values]
        columns[name] = values
    return [{name: values[i] for name, values in columns.items()} for i in range(table.num_rows)]


def score_table(table: pa.Table | pa.RecordBatch) -> list[dict]:
    """score_row for every row of an Arrow table or record batch."""
    return [score_row(row) for row in table_rows(table)]
