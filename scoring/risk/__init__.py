"""Complex-needs risk from GP journal extracts: published scores over Arrow list columns of codes."""

from .charlson import charlson_columns
from .medicines import polypharmacy_columns
from .policy import PolicyError, load_policy
from .score import RISK_COLUMNS, score_risk, warm_up

__all__ = ["RISK_COLUMNS", "PolicyError", "charlson_columns", "load_policy", "polypharmacy_columns", "score_risk",
           "warm_up"]
