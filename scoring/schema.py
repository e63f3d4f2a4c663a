"""The column contract for observation sets and the stable codes Varde answers with.

Names and codes here are part of the public contract (files, gRPC, flags): add, never rename.
"""

from __future__ import annotations

import difflib

import pyarrow as pa

__all__ = [
    "BANDS",
    "MISSING_NAMES",
    "MONITORING",
    "NOT_APPLICABLE_REASONS",
    "OBSERVATION_COLUMNS",
    "OPTIONAL_COLUMNS",
    "PARAMETERS",
    "REJECT_REASONS",
    "REQUIRED_COLUMNS",
    "RESULT_COLUMNS",
    "SUBSCORE_COLUMNS",
    "SchemaError",
    "result_schema",
]


class SchemaError(ValueError):
    """The input cannot be scored as a whole: a required column is missing or holds the wrong kind of value."""

    def __init__(self, message: str, column: str | None = None):
        super().__init__(message)
        self.column = column


# The seven scored NEWS2 items, in the order of the RCP chart. Bit i of the "missing" mask is PARAMETERS[i].
PARAMETERS = ("resp_rate", "spo2", "air_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")

REQUIRED_COLUMNS = (
    "patient_id",
    "resp_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)
OPTIONAL_COLUMNS = ("observed_at", "spo2_scale", "age", "pregnant")
OBSERVATION_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

SUBSCORE_COLUMNS = tuple(f"news2_{p}" for p in PARAMETERS)

# Index = the int8 code the kernel writes; order is severity order, so a larger code is a worse band.
BANDS = ("ZERO", "LOW", "LOW_MEDIUM", "MEDIUM", "HIGH")
# RCP 2017 Chart 4: minimum monitoring frequency per band (LOW_MEDIUM and MEDIUM share 1-hourly).
MONITORING = ("12-hourly", "4-6-hourly", "1-hourly", "continuous")
NOT_APPLICABLE_REASONS = ("UNDER_16", "PREGNANT")

# Index = the int8 code the kernel writes. A row gets the first that applies, in this order.
REJECT_REASONS = (
    "MISSING_PATIENT_ID",
    "RESP_RATE_NOT_A_NUMBER",
    "RESP_RATE_OUT_OF_RANGE",
    "SPO2_NOT_A_NUMBER",
    "SPO2_OUT_OF_RANGE",
    "SPO2_SCALE_INVALID",
    "ON_OXYGEN_INVALID",
    "SYSTOLIC_BP_NOT_A_NUMBER",
    "SYSTOLIC_BP_OUT_OF_RANGE",
    "PULSE_NOT_A_NUMBER",
    "PULSE_OUT_OF_RANGE",
    "UNKNOWN_CONSCIOUSNESS",
    "TEMPERATURE_NOT_A_NUMBER",
    "TEMPERATURE_LIKELY_FAHRENHEIT",
    "TEMPERATURE_OUT_OF_RANGE",
    "AGE_OUT_OF_RANGE",
    "NO_VITAL_SIGNS",
    # Not written by the kernel: a patient_id that fails the national identity number check (server option
    # --validate-national-id). It takes MISSING_PATIENT_ID's place in the order: checked first.
    "INVALID_NATIONAL_ID",
    # Not written by the kernel either: observed_at more than a few minutes after the server's clock (a device's
    # clock wrong, or a typing error), at the same place in the order.
    "OBSERVED_IN_FUTURE",
)

# news2_missing: the names of the missing parameters, ';'-joined in chart order, one entry per 7-bit mask.
MISSING_NAMES = tuple(
    ";".join(p for bit, p in enumerate(PARAMETERS) if mask >> bit & 1) for mask in range(1 << len(PARAMETERS))
)

_DICT = pa.dictionary(pa.int8(), pa.string())

RESULT_COLUMNS = (
    *SUBSCORE_COLUMNS,
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


def result_schema() -> pa.Schema:
    """The columns score_news2 appends, with their types."""
    fields = [pa.field(c, pa.int8()) for c in SUBSCORE_COLUMNS]
    fields += [
        pa.field("news2_total", pa.int8()),
        pa.field("news2_band", _DICT),
        pa.field("news2_red", pa.bool_()),
        pa.field("news2_complete", pa.bool_()),
        pa.field("news2_missing", _DICT),
        pa.field("news2_applicable", pa.bool_()),
        pa.field("news2_not_applicable_reason", _DICT),
        pa.field("news2_monitoring", _DICT),
        pa.field("reject_reason", _DICT),
    ]
    return pa.schema(fields)


# Names other systems use for the same thing, to suggest the rename in the error message.
_ALIASES = {
    "pulse": ("heart_rate", "hr", "pulse_rate", "heartrate"),
    "resp_rate": ("respiratory_rate", "respiration_rate", "rr", "resp"),
    "systolic_bp": ("sbp", "systolic", "bp_systolic", "systolic_pressure"),
    "temperature": ("temp", "body_temperature"),
    "consciousness": ("avpu", "acvpu", "loc", "level_of_consciousness"),
    "on_oxygen": ("oxygen", "o2", "supplemental_oxygen", "air_or_oxygen"),
    "spo2": ("saturation", "oxygen_saturation", "sao2"),
    "patient_id": ("patient", "patientid", "pid", "person_id"),
}


def missing_column_error(name: str, present: list[str]) -> SchemaError:
    lowered = {p.lower(): p for p in present}
    hint = [lowered[a] for a in _ALIASES.get(name, ()) if a in lowered]
    hint = hint or difflib.get_close_matches(name, present, n=1)
    msg = f"required column {name!r} is missing"
    if hint:
        msg += f" (found {hint[0]!r}: rename it to {name!r})"
    msg += f"; an observation set needs the columns {', '.join(REQUIRED_COLUMNS)}"
    return SchemaError(msg, column=name)
