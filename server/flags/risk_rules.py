"""What raises a risk flag (docs/risk.md): RISK_UNMET_NEED for a HIGH or VERY_HIGH tier with no coordinator, no
individual plan and no follow-up team (the surprises), and RISK_RISING when a patient's tier went up since their
previous scoring. Severity follows the tier: VERY_HIGH high, HIGH medium, lower tiers low."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from varde.scoring.risk.policy import TIERS

from ..store.base import Findings

__all__ = ["RISK_KINDS", "risk_findings"]

RISK_KINDS = ("RISK_RISING", "RISK_UNMET_NEED")
_SEVERITY = np.array([1, 1, 2, 3], np.int8)  # by tier code: LOW, MODERATE, HIGH, VERY_HIGH
_DETAIL = ("risk_tier", "risk_points", "risk_reasons", "charlson_quan2011", "polypharmacy_count", "age_years")


def risk_findings(scored: pa.Table, patients: list[str], last: np.ndarray, stored: dict[str, bytes]
                  ) -> tuple[Findings, dict[str, bytes], np.ndarray]:
    """Findings of the rows `last` (one per patient in `patients`: the patient's last row of the batch), the new
    stored tiers, and per such row whether the tier rose."""
    tier = pc.fill_null(scored.column("risk_tier").combine_chunks().indices, -1).to_numpy()[last].astype(np.int8)
    unmet = pc.fill_null(scored.column("unmet_need").combine_chunks(), False).to_numpy(zero_copy_only=False)[last]
    previous = np.array([stored[p][0] if p in stored else -1 for p in patients], np.int8)
    rising = (previous >= 0) & (tier > previous)
    rows, kinds = [], []
    for k, mask in ((0, rising), (1, unmet & (tier >= TIERS.index("HIGH")))):
        for i in np.flatnonzero(mask):
            rows.append(i)
            kinds.append(k)
    order = sorted(range(len(rows)), key=lambda j: (patients[rows[j]], kinds[j]))
    details = scored.select([c for c in _DETAIL if c in scored.column_names]).take(
        pa.array([last[rows[j]] for j in order], pa.int64())).to_pylist()
    findings = Findings([], [], [], [], [], [])
    for j, detail in zip(order, details, strict=True):
        i = rows[j]
        detail["previous_tier"] = TIERS[previous[i]] if previous[i] >= 0 else None
        findings.patient_ids.append(patients[i])
        findings.kinds.append(RISK_KINDS[kinds[j]])
        findings.severity.append(int(_SEVERITY[tier[i]]))
        findings.worst_total.append(int(tier[i]))
        findings.assessments.append(json.dumps(detail, separators=(",", ":"), ensure_ascii=False))
        findings.occurrences.append(1)
    states = {p: bytes([int(t)]) for p, t in zip(patients, tier.tolist(), strict=True) if t >= 0}
    return findings, states, rising
