"""Escalation of flags nobody takes: an OPEN flag not claimed within its severity's time escalates, and again every
such interval after, until claimed. A CLAIMED flag not resolved within its severity's time to resolve gets a
reminder, then escalates every such interval after, until resolved or released. The policy is a readable,
versioned TOML file an operator can replace."""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..store.base import SEVERITIES, Store
from ._rounds import Rounds

__all__ = ["EscalationPolicy", "EscalationPolicyError", "Escalator", "load_escalation_policy"]

_UNITS = {"s": 1, "m": 60, "h": 3600}


class EscalationPolicyError(ValueError):
    """The policy file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class EscalationPolicy:
    version: str
    claim_within_us: dict[int, int]  # severity code -> microseconds
    # severity code -> microseconds from claim to reminder (then escalation each such interval); empty: none
    resolve_within_us: dict[int, int] = field(default_factory=dict)


def load_escalation_policy(path: str | Path | None = None) -> EscalationPolicy:
    if path is None:
        text = resources.files("varde.server.flags").joinpath("data/escalation_default.toml").read_text()
        where = "the default escalation policy"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise EscalationPolicyError(f"escalation policy {str(path)!r}: {e.strerror}") from None
        where = f"escalation policy {str(path)!r}"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise EscalationPolicyError(f"{where} is not valid TOML: {e}") from None
    if not isinstance(doc.get("version"), str) or not doc["version"]:
        raise EscalationPolicyError(f"{where}: version = \"...\" is required")
    return EscalationPolicy(doc["version"], _durations(doc, "claim_within", where),
                            _durations(doc, "resolve_within", where))


def _durations(doc: dict, table: str, where: str) -> dict[int, int]:
    """severity code -> microseconds from a [table] of SEVERITY = "duration"."""
    section = doc.get(table) or {}
    if not isinstance(section, dict):
        raise EscalationPolicyError(f"{where}: {table} must be a table ([{table}])")
    within = {}
    for name, text_ in section.items():
        if name not in SEVERITIES:
            raise EscalationPolicyError(f"{where}: [{table}] {name}: severities are {', '.join(SEVERITIES)}")
        m = re.fullmatch(r"\s*(\d+)\s*([smh])\s*", str(text_))
        if not m or int(m[1]) <= 0:
            raise EscalationPolicyError(f"{where}: [{table}] {name} = {text_!r}: write e.g. \"90s\", \"15m\", "
                                        "\"2h\"")
        within[SEVERITIES[name]] = int(m[1]) * _UNITS[m[2]] * 1_000_000
    return within


class Escalator(Rounds):
    """Escalates due flags (open ones not claimed in time; claimed ones not resolved in time, after a reminder)
    every `every` seconds. Several servers on one store may run one each: the store's updates are conditional on
    what they read, so each step happens once."""

    what = "escalation"

    def __init__(self, store: Store, policy: EscalationPolicy, metrics, stopping: threading.Event,
                 every: float = 5.0):
        super().__init__(stopping, every)
        self._store, self._policy, self._metrics = store, policy, metrics

    def run_once(self) -> int:
        """One round; how many flags were escalated or reminded."""
        escalated = self._store.escalate_due(self._policy.claim_within_us)
        reminded, claimed_escalated = self._store.remind_and_escalate_claimed(self._policy.resolve_within_us)
        if self._metrics is not None:
            names = {v: k for k, v in SEVERITIES.items()}
            for counter, counts in ((self._metrics.flags_escalated, escalated),
                                    (self._metrics.flags_escalated, claimed_escalated),
                                    (self._metrics.flags_reminded, reminded)):
                for severity, n in counts.items():
                    counter.labels(names.get(severity, str(severity))).inc(n)
        return sum(escalated.values()) + sum(claimed_escalated.values()) + sum(reminded.values())
