"""Scored rows in, committed flags out: the step between the kernels and the coordinators' queue."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..store.base import Store, now_us
from . import rules

__all__ = ["FlagQueue", "Recorded"]


@dataclass
class Recorded:
    raised: int = 0
    updated: int = 0
    replayed: bool = False
    rising: np.ndarray | None = None  # per scored row (None when replayed)
    flag_ids: dict = field(default_factory=dict)  # patient_id -> [flag ids]


# Batch ids are remembered this long: a resend within it raises nothing twice.
REMEMBER_BATCHES_US = 14 * rules.DAY_US


class FlagQueue:
    def __init__(self, store: Store, metrics=None, window_us: int = rules.DAY_US,
                 remember_us: int = REMEMBER_BATCHES_US):
        self.store = store
        self.metrics = metrics
        self.window_us = window_us
        self.remember_us = remember_us
        self._calls = 0

    def record(self, scored: pa.Table, batch_id: str, source: str) -> Recorded:
        """Trend, findings and flags for one scored batch, committed in one transaction before returning.

        The same batch_id twice records nothing the second time (replayed=True).
        """
        started = time.perf_counter()
        self._calls += 1
        if self._calls % 1000 == 1:
            self.store.forget_batches(now_us() - self.remember_us)
        prepared = rules.prepare(scored, now_us())
        with self.store.batch(batch_id, prepared.patients) as opened:
            if opened is None:
                return Recorded(replayed=True)
            stored, cur = opened
            up, states = rules.trend(prepared, stored, self.window_us)
            found = rules.findings(scored, prepared, up)
            outcome = self.store.commit_batch(cur, batch_id, source, states, found)
        rising = np.zeros(scored.num_rows, np.bool_)
        rising[prepared.rows] = up
        ids: dict = {}
        for (patient, _kind), flag_id in outcome.flag_ids.items():
            ids.setdefault(patient, []).append(flag_id)
        if self.metrics is not None:
            m = self.metrics
            m.queue_seconds.observe(time.perf_counter() - started)
            per_kind = Counter()
            for kind, n in zip(found.kinds, found.occurrences, strict=True):
                per_kind[kind] += n
            for kind, n in per_kind.items():
                m.findings.labels(kind).inc(n)
            if outcome.raised:
                m.flags_raised.inc(outcome.raised)
            if outcome.updated:
                m.flags_updated.inc(outcome.updated)
        return Recorded(outcome.raised, outcome.updated, False, rising, ids)
