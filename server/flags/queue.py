"""Scored rows in, committed flags out: the step between the kernels and the coordinators' queue."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..store.base import Caller, Store, now_us
from . import risk_rules, rules

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

    def record(self, scored: pa.Table, batch_id: str, caller: Caller) -> Recorded:
        """Trend, findings and flags for one scored batch of the caller's unit, committed (and the call audited)
        in one transaction before returning. The flags' source is the caller's authenticated identity.

        The same batch_id twice from one unit records nothing the second time (replayed=True).
        """
        started = time.perf_counter()
        self._calls += 1
        if self._calls % 1000 == 1:
            self.store.forget_batches(now_us() - self.remember_us)
        prepared = rules.prepare(scored, now_us())
        with self.store.batch(batch_id, prepared.patients, caller=caller, rows=scored.num_rows) as opened:
            if opened is None:
                return Recorded(replayed=True)
            stored, cur = opened
            up, states = rules.trend(prepared, stored, self.window_us)
            found = rules.findings(scored, prepared, up)
            outcome = self.store.commit_batch(cur, batch_id, caller.actor, states, found, unit=caller.unit)
        rising = np.zeros(scored.num_rows, np.bool_)
        rising[prepared.rows] = up
        return self._recorded(outcome, found, rising, started)

    def record_risk(self, scored: pa.Table, batch_id: str, caller: Caller) -> Recorded:
        """RISK_UNMET_NEED and RISK_RISING for a batch that score_risk returned, committed before returning; each
        patient's tier is kept for the next scoring. The same batch_id twice records nothing the second time."""
        started = time.perf_counter()
        pid = scored.column("patient_id").combine_chunks()
        if pa.types.is_dictionary(pid.type):
            pid = pid.dictionary_decode()
        valid = np.flatnonzero(pid.is_valid().to_numpy(zero_copy_only=False))
        # one row per patient: the last one in the batch
        names = pid.take(pa.array(valid)).to_pylist()
        last_row = {}
        for row, name in zip(valid.tolist(), names, strict=True):
            last_row[name] = row
        patients = sorted(last_row)
        last = np.array([last_row[p] for p in patients], np.int64)
        with self.store.batch(batch_id, patients, state_table="risk_state", caller=caller,
                              rows=scored.num_rows) as opened:
            if opened is None:
                return Recorded(replayed=True)
            stored, cur = opened
            found, states, up = risk_rules.risk_findings(scored, patients, last, stored)
            outcome = self.store.commit_batch(cur, batch_id, caller.actor, states, found, state_table="risk_state",
                                              unit=caller.unit)
        rising = np.zeros(scored.num_rows, np.bool_)
        rising[last] = up
        return self._recorded(outcome, found, rising, started)

    def _recorded(self, outcome, found, rising: np.ndarray, started: float) -> Recorded:
        """Metrics of a committed batch, and its flag ids per patient."""
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
        ids: dict = {}
        for (patient, _kind), flag_id in outcome.flag_ids.items():
            ids.setdefault(patient, []).append(flag_id)
        return Recorded(outcome.raised, outcome.updated, False, rising, ids)
