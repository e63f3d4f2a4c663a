"""Deterioration by trend: a rising NEWS2 matters more than one reading (RCP 2017; docs/flags.md).

Per patient, each new assessment is compared with that patient's recent history:
- a rise of 2 or more against the lowest total in the window before it (24 h by default), or
- a rise in clinical risk against the reading before it (within the window), where risk is RCP's response
  level: low (total 0-4), low-medium (3 in one parameter), medium (5-6), high (7 or more). A move from 0 to 1-4
  stays within "low" and is not a rise.

The history a patient carries between calls is small and fixed: the readings that can still be the lowest of a
future window (at most one per total), and the newest reading's time and risk. It lives in the flag store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _trend_kernel as K

__all__ = ["DAY_US", "TrendState", "clinical_risk", "rising"]

DAY_US = 24 * 3600 * 1_000_000


@dataclass
class TrendState:
    """The carried history of `n` patients, row g for patient g. Arrays are updated in place by `rising`."""

    count: np.ndarray  # int64[n]: candidates in use
    times: np.ndarray  # int64[n, K]: microseconds since the epoch, UTC
    totals: np.ndarray  # int8[n, K]
    last_time: np.ndarray  # int64[n]
    last_risk: np.ndarray  # int8[n]; -1: no reading yet
    last_base: np.ndarray  # int8[n]: the newest reading's baseline (-1: none)

    @classmethod
    def empty(cls, n: int) -> TrendState:
        return cls(*K.empty_state(n))

    def to_bytes(self, g: int) -> bytes:
        """One patient's history as bytes for the store (little-endian; version byte first)."""
        k = int(self.count[g])
        head = np.array([1, self.last_risk[g], self.last_base[g], k], np.int8).tobytes()
        head += np.array([self.last_time[g]], "<i8").tobytes()
        return head + self.times[g, :k].astype("<i8").tobytes() + self.totals[g, :k].tobytes()

    def load(self, g: int, data: bytes) -> None:
        version, last_risk, last_base, k = np.frombuffer(data[:4], np.int8)
        if version != 1 or not 0 <= k <= K.K or len(data) != 12 + 9 * k:
            raise ValueError(f"unknown trend state (version {version}, {k} readings, {len(data)} bytes)")
        self.last_risk[g], self.last_base[g], self.count[g] = last_risk, last_base, k
        self.last_time[g] = np.frombuffer(data[4:12], "<i8")[0]
        self.times[g, :k] = np.frombuffer(data[12:12 + 8 * k], "<i8")
        self.totals[g, :k] = np.frombuffer(data[12 + 8 * k:], np.int8)


def clinical_risk(band: np.ndarray) -> np.ndarray:
    """RCP response level 0-3 from news2_band codes (ZERO, LOW -> 0; LOW_MEDIUM 1; MEDIUM 2; HIGH 3)."""
    return np.maximum(np.asarray(band, np.int8) - 1, 0).astype(np.int8)


def rising(starts: np.ndarray, times: np.ndarray, totals: np.ndarray, risk: np.ndarray, state: TrendState,
           window_us: int = DAY_US) -> tuple[np.ndarray, np.ndarray]:
    """(rising, baseline) per row; rows grouped by patient (`starts`, len = patients + 1), time order in a group.

    `state` holds the patients' history before these rows and is advanced past them. baseline is the lowest
    total in the window before each row (-1: none).
    """
    # Read-only views throughout: arrays straight from Arrow are read-only, and one signature means one compile.
    starts, times, totals, risk = (_readonly(a, t) for a, t in ((starts, np.int64), (times, np.int64),
                                                              (totals, np.int8), (risk, np.int8)))
    n, groups = times.shape[0], starts.shape[0] - 1
    if totals.shape[0] != n or risk.shape[0] != n or starts[0] != 0 or starts[-1] != n:
        raise ValueError("starts, times, totals and risk do not describe the same rows")
    if state.count.shape[0] != groups:
        raise ValueError(f"state holds {state.count.shape[0]} patients; starts describes {groups}")
    if window_us <= 0:
        raise ValueError("window_us must be positive")
    out = np.zeros(n, np.bool_)
    baseline = np.empty(n, np.int8)
    K.trend(starts, times, totals, risk, np.int64(window_us), state.count, state.times, state.totals,
            state.last_time, state.last_risk, state.last_base, out, baseline)
    return out, baseline


def _readonly(a, dtype) -> np.ndarray:
    view = np.ascontiguousarray(a, dtype).view()
    view.setflags(write=False)
    return view


def warm_up() -> None:
    """Compile (or load from the cache) the trend kernel, so that the first batch that raises a flag does not."""
    rising(np.array([0, 1]), np.zeros(1, np.int64), np.array([5]), np.array([1]), TrendState.empty(1))
