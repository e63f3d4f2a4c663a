"""Escalation of flags nobody takes: an OPEN flag not claimed within its severity's time escalates, and again every
such interval after, until claimed. The policy is a readable, versioned TOML file an operator can replace."""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import dataclass
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
    within = {}
    for name, text_ in (doc.get("claim_within") or {}).items():
        if name not in SEVERITIES:
            raise EscalationPolicyError(f"{where}: [claim_within] {name}: severities are {', '.join(SEVERITIES)}")
        m = re.fullmatch(r"\s*(\d+)\s*([smh])\s*", str(text_))
        if not m or int(m[1]) <= 0:
            raise EscalationPolicyError(f"{where}: [claim_within] {name} = {text_!r}: write e.g. \"90s\", \"15m\", "
                                        "\"2h\"")
        within[SEVERITIES[name]] = int(m[1]) * _UNITS[m[2]] * 1_000_000
    return EscalationPolicy(doc["version"], within)


class Escalator(Rounds):
    """Escalates due flags every `every` seconds. Several servers on one store may run one each: the store's
    update is conditional on the level it read, so each step happens once."""

    what = "escalation"

    def __init__(self, store: Store, policy: EscalationPolicy, metrics, stopping: threading.Event,
                 every: float = 5.0):
        super().__init__(stopping, every)
        self._store, self._policy, self._metrics = store, policy, metrics

    def run_once(self) -> int:
        escalated = self._store.escalate_due(self._policy.claim_within_us)
        names = {v: k for k, v in SEVERITIES.items()}
        for severity, n in escalated.items():
            self._metrics.flags_escalated.labels(names.get(severity, str(severity))).inc(n)
        return sum(escalated.values())
