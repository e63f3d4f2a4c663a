"""What the flag list and the flag page show of a flag, computed once from the stored row: the NEWS2 total and its
trend, the parameters that raised it, the time left before it escalates."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..store.base import FlagRow

__all__ = ["FlagView", "PARAMETERS", "SEVERITY_NAMES", "view"]

SEVERITY_NAMES = {3: "HIGH", 2: "MEDIUM", 1: "LOW"}
PARAMETERS = ("resp_rate", "spo2", "air_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")


@dataclass(frozen=True)
class FlagView:
    flag: FlagRow
    severity: str  # HIGH, MEDIUM, LOW
    total: int | None
    trend: int | None  # the total against the patient's lowest in the last 24 h
    raised_by: list[tuple[str, int]]  # (parameter, sub-score), highest first
    team: str
    last_received: int | None
    due_at: int | None  # when it escalates (open) or is reminded/escalated (claimed) next
    risk_reasons: list[str]
    taken_by: str


def _due(flag: FlagRow, claim_within: dict[int, int], resolve_within: dict[int, int]) -> int | None:
    if flag.state == "OPEN" and flag.severity in claim_within:
        return flag.created_at + (flag.escalation_level + 1) * claim_within[flag.severity]
    if flag.state == "CLAIMED" and flag.severity in resolve_within and flag.claimed_at is not None:
        return flag.claimed_at + resolve_within[flag.severity]
    return None


def view(flag: FlagRow, *, team: str = "", last_received: int | None = None, claim_within=None,
         resolve_within=None, names: dict[str, str] | None = None) -> FlagView:
    try:
        a = json.loads(flag.assessment)
    except (TypeError, ValueError):
        a = {}
    if not isinstance(a, dict):
        a = {}
    total = a.get("news2_total")
    lowest = a.get("lowest_total_24h")
    trend = total - lowest if isinstance(total, int) and isinstance(lowest, int) else None
    subs = a.get("sub_scores") or {}
    raised = sorted(((p, s) for p, s in subs.items() if isinstance(s, int) and s > 0 and p in PARAMETERS),
                    key=lambda ps: (-ps[1], PARAMETERS.index(ps[0])))
    reasons = a.get("risk_reasons") or []
    if isinstance(reasons, str):
        reasons = [r for r in reasons.split(";") if r]
    taken = flag.claimed_by or ""
    if names and taken in names:
        taken = names[taken]
    return FlagView(flag, SEVERITY_NAMES.get(flag.severity, "LOW"), total if isinstance(total, int) else None,
                    trend, raised, team, last_received, _due(flag, claim_within or {}, resolve_within or {}),
                    [str(r) for r in reasons][:5], taken)
