"""Scored rows in, committed flags out: the step between the kernels and the coordinators' queue."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from ..store.base import Caller, Findings, Store, now_us
from . import assembly, risk_rules, rules
from .follow_up import FollowUp

__all__ = ["FlagQueue", "Pushed", "Recorded"]


@dataclass
class Recorded:
    raised: int = 0
    updated: int = 0
    replayed: bool = False
    rising: np.ndarray | None = None  # per scored row (None when replayed)
    flag_ids: dict = field(default_factory=dict)  # patient_id -> [flag ids]


@dataclass(frozen=True)
class Pushed:
    """One accepted push: what one device measured for one patient at one time."""

    patient_id: str
    measured_at: int  # µs since the epoch, UTC
    device: str
    values: dict  # assembly.FIELDS present in the push


# Batch ids are remembered this long: a resend within it raises nothing twice.
REMEMBER_BATCHES_US = 14 * rules.DAY_US


class FlagQueue:
    def __init__(self, store: Store, metrics=None, window_us: int = rules.DAY_US,
                 remember_us: int = REMEMBER_BATCHES_US, follow_up: FollowUp | None = None):
        self.store = store
        self.metrics = metrics
        self.window_us = window_us
        self.remember_us = remember_us
        self.follow_up = follow_up or FollowUp()
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
            stored, cur, _ = opened
            up, base, states = rules.trend(prepared, stored, self.window_us)
            found = rules.findings(scored, prepared, up, base)
            outcome = self.store.commit_batch(cur, batch_id, caller.actor, states, found, unit=caller.unit)
        rising = np.zeros(scored.num_rows, np.bool_)
        rising[prepared.rows] = up
        return self._recorded(outcome, found, rising, started)

    def record_readings(self, pushed: list[Pushed], batch_id: str, caller: Caller, window_us: int,
                        score: Callable[[list[str], list[assembly.AssembledSet], dict[str, dict]],
                                        tuple[pa.Table, object]],
                        settings: dict[str, dict] | None = None
                        ) -> tuple[Recorded, list[assembly.AssembledSet], object]:
        """Store the readings, assemble each into the observation set it belongs to (assembly.py), score the sets
        with `score(patient_ids, sets, settings) -> (scored table, whatever the caller needs)`, and raise flags from
        the sets, all in one transaction per call that holds the patients' locks, so that several servers assemble
        as one. The patients' settings are read in that transaction too (under the locks a settings change takes),
        unless the caller gives them.

        Returns the Recorded outcome (rising per set), the sets, and what `score` returned besides the table. The
        same batch_id again stores nothing and raises nothing, but answers with the sets as they are now.
        """
        started = time.perf_counter()
        self._calls += 1
        if self._calls % 1000 == 1:
            self.store.forget_batches(now_us() - self.remember_us)
            self.store.forget_readings(now_us() - self.remember_us)
        patients = sorted({p.patient_id for p in pushed})
        lo = min(p.measured_at for p in pushed) - window_us
        hi = max(p.measured_at for p in pushed) + window_us
        received = now_us()
        # one read, with the patients' locks and trend states, for the sets, the scoring, ISBAR, the resolved
        # flags' sets and after_sets' due times (follow_up is written only there)
        reads = self.store.assembly_queries(caller.unit, patients, lo, hi, settings=settings is None, flags=True)
        with self.store.batch(batch_id, patients, caller=caller, rows=len(pushed), serialise=True,
                              reads=reads) as opened:
            if opened is not None:
                stored, cur, answers = opened
                read = self.store.assembly_rows(patients, answers)
                settings = read.settings if settings is None else settings
                sets, readings = _assemble(pushed, read.history, window_us)
                self.store.insert_readings(cur, caller.unit, [
                    (p.patient_id, p.measured_at, received, p.device, assembly.encode(p.values)) for p in pushed])
                scored, extra = score([p.patient_id for p in pushed], sets, settings)
                prepared = rules.prepare(scored, received)
                complete = np.array([sets[i].complete for i in prepared.rows], np.bool_)
                up, base, states = rules.trend_sets(prepared, stored, complete, self.window_us)
                found = _not_resolved_before(rules.findings(scored, prepared, up, base), sets, read.resolved)
                rising = np.zeros(scored.num_rows, np.bool_)
                rising[prepared.rows] = up
                baseline = np.full(scored.num_rows, -1, np.int8)
                baseline[prepared.rows] = base
                newest_sets = {p: (t, total) for p, (t, _, total) in read.follow_up.items()}
                found = self.follow_up.with_isbar(cur, self.store, caller.unit, found, scored, sets, readings,
                                                  baseline, rising, settings, newest_sets, read.kept, read.risk)
                # before commit_batch: its event lock, which every server's commits wait for, is held to COMMIT
                self.follow_up.after_sets(self.store, cur, caller.unit, scored, sets,
                                          [p.patient_id for p in pushed], settings,
                                          known={p: (t, o) for p, (t, o, _) in read.follow_up.items()})
                if found.scored_rows is not None:  # each flag remembers the set that raised or updated it
                    found = replace(found, set_started=[sets[row].started_at for row in found.scored_rows])
                outcome = self.store.commit_batch(cur, batch_id, caller.actor, states, found, unit=caller.unit)
        if opened is None:  # replayed: answer with the sets as they stand, change nothing
            with self.store.transaction(write=False) as cur:
                read = self.store.assembly_reads(cur, caller.unit, patients, lo, hi, settings=settings is None,
                                                 follow_up=False)
            sets, _ = _assemble(pushed, read.history, window_us)
            _, extra = score([p.patient_id for p in pushed], sets, read.settings if settings is None else settings)
            return Recorded(replayed=True), sets, extra
        if self.metrics is not None:
            for s_ in sets:
                self.metrics.observation_sets.labels("complete" if s_.complete else "partial").inc()
        return self._recorded(outcome, found, rising, started), sets, extra

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
            stored, cur, _ = opened
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


def _assemble(pushed: list[Pushed], history: dict[str, list], window_us: int
              ) -> tuple[list[assembly.AssembledSet], dict[str, list[assembly.Reading]]]:
    """Each push's set, in order: a push sees the stored readings and the pushes before it in the call."""
    readings = {p: [assembly.Reading(t, seq, device, assembly.decode(text)) for t, seq, device, text in rows]
                for p, rows in history.items()}
    after = 1 << 62  # sequence numbers for the new readings: after every stored one
    sets = []
    for k, p in enumerate(pushed):
        mine = readings.setdefault(p.patient_id, [])
        mine.append(assembly.Reading(p.measured_at, after + k, p.device, p.values))
        sets.append(assembly.assemble(mine, p.measured_at, window_us))
    return sets, readings


def _not_resolved_before(found: Findings, sets: list[assembly.AssembledSet], resolved: dict) -> Findings:
    """The findings, less those of a set whose flag of that kind a coordinator already resolved: a reading that
    joins a set late does not raise what the set raised and someone dealt with."""
    if not resolved or not len(found):
        return found
    keep = [j for j, (p, k, row) in enumerate(zip(found.patient_ids, found.kinds, found.scored_rows, strict=True))
            if resolved.get((p, k)) != sets[row].started_at]
    if len(keep) == len(found):
        return found
    pick = lambda values: [values[j] for j in keep]  # noqa: E731
    return Findings(pick(found.patient_ids), pick(found.kinds), pick(found.severity), pick(found.worst_total),
                    pick(found.assessments), pick(found.occurrences), None if found.isbar is None else
                    pick(found.isbar), pick(found.scored_rows),
                    None if found.set_started is None else pick(found.set_started))
