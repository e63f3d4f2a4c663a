"""Readings from several devices made into one observation set (docs/home.md).

At home the pulse oximeter sends SpO2 and pulse, the cuff systolic pressure and pulse, the thermometer temperature,
the nurse's app respiration rate and consciousness, each at its own time. A reading measured at `t` belongs to the
newest set it can be part of: the set's time is the newest reading measured in [t, t + window], and the set holds,
per parameter, the newest reading measured in [set time - window, set time]. So a reading that arrives late (a
device that was offline) lands in the set of its measurement time, a newer reading of a parameter replaces an older
one (both stay in history), and a reading older than the window never counts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["FIELDS", "AssembledSet", "Reading", "assemble", "decode", "encode"]

# What a reading may carry: the seven parameters (observation names, chart order) and what qualifies them.
PARAMETER_FIELDS = ("resp_rate", "spo2", "on_oxygen", "systolic_bp", "pulse", "consciousness", "temperature")
FIELDS = (*PARAMETER_FIELDS, "spo2_scale", "age", "pregnant")
_FIELD_SET = frozenset(FIELDS)


@dataclass(frozen=True)
class Reading:
    """One push: what one device measured at one time."""

    measured_at: int  # µs since the epoch, UTC
    seq: int  # arrival order (ties at one measurement time: the later arrival wins)
    device: str
    values: Mapping  # field -> value, present fields only


@dataclass
class AssembledSet:
    at: int  # the set's time: its newest reading
    started_at: int  # its oldest reading
    values: dict  # field -> value
    parts: dict = field(default_factory=dict)  # field -> (measured_at, device)

    @property
    def complete(self) -> bool:
        return all(name in self.values for name in PARAMETER_FIELDS)


def encode(values: dict) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=32_768)
def decode(text: str) -> Mapping:
    """A stored reading's fields, read-only, because one text decodes to one shared mapping: each push reads its
    patients' readings of the last hour again, and decoding them every time cost ~0.15 ms a push."""
    return MappingProxyType(json.loads(text))


def assemble(readings: list[Reading], at: int, window_us: int) -> AssembledSet:
    """The set the reading measured at `at` belongs to, from `readings` (the patient's, that reading among them,
    any order)."""
    anchor = max((r.measured_at for r in readings if at <= r.measured_at <= at + window_us), default=at)
    inside = sorted((r for r in readings if anchor - window_us <= r.measured_at <= anchor),
                    key=lambda r: (r.measured_at, r.seq))
    values: dict = {}
    parts: dict = {}
    for r in inside:  # oldest first: a newer reading of a field replaces the older one
        for name, value in r.values.items():
            if name not in _FIELD_SET:
                continue  # kept with the reading, not part of a set (e.g. a total the vendor computed)
            values[name] = value
            parts[name] = (r.measured_at, r.device)
    started = min((t for t, _ in parts.values()), default=anchor)
    return AssembledSet(anchor, started, values, parts)


def previous_values(readings: list[Reading], s: AssembledSet) -> dict:
    """Per parameter of the set: (value, measured_at) of the reading of it before the one in the set, if any."""
    out = {}
    for name, (when, _device) in s.parts.items():
        before = [r for r in readings if name in r.values and r.measured_at < when]
        if before:
            r = max(before, key=lambda r: (r.measured_at, r.seq))
            out[name] = (r.values[name], r.measured_at)
    return out
