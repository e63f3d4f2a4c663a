"""Synthetic NEWS2 observation sets for the benchmarks: realistic shapes, seeded, vectorised (10M rows: ~4 s).

Every value is inside the ranges of docs/news2.md, so no row is rejected and every peer can agree on the
totals. About 1 % of each of the seven scored items is null. A small share of temperatures carries a second
decimal of 5 (36.05, 38.05, ...): a float32 36.05 is stored as 36.0499992, so these rows exercise the
quantisation rule (half away from zero on the decimal the sender meant) that every peer and the kernel must
apply identically.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["CONSCIOUSNESS_LEVELS", "generate"]

CONSCIOUSNESS_LEVELS = ("A", "C", "V", "P", "U")
_CONSCIOUSNESS_P = (0.95, 0.02, 0.015, 0.01, 0.005)


def _mixture(rng, n, core, tail, tail_share, dtype):
    """Mostly `core` (a clipped normal: mean, sd, lo, hi); a `tail_share` uniform over `tail` (lo, hi)."""
    mean, sd, lo, hi = core
    out = np.clip(np.rint(rng.standard_normal(n, dtype=np.float32) * sd + mean), lo, hi)
    is_tail = rng.random(n, dtype=np.float32) < tail_share
    out[is_tail] = rng.integers(tail[0], tail[1] + 1, int(is_tail.sum()))
    return out.astype(dtype)


def generate(n: int, seed: int = 0, *, null_share: float = 0.01, halfway_share: float = 0.01) -> pa.Table:
    """`n` observation sets for about n/20 patients, patient-major and time-ordered within a patient.

    Columns: patient_id dictionary<int32, string> ("p000123"), observed_at timestamp[ms, UTC],
    resp_rate int16, spo2 int8, systolic_bp int16, pulse int16, temperature float32 (one decimal,
    `halfway_share` with x.x5), spo2_scale int8 (~5 % are 2, never null), on_oxygen bool (~10 % true),
    consciousness dictionary<int8, string> (~95 % "A").
    """
    rng = np.random.default_rng(seed)
    n_patients = max(1, n // 20)

    # Patients: sorted random ids give ~20 observations each, varying like real stays do.
    pid = np.sort(rng.integers(0, n_patients, n, dtype=np.int32))
    counts = np.bincount(pid, minlength=n_patients)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.arange(n, dtype=np.int64) - first
    names = pa.array([f"p{i:06d}" for i in range(n_patients)], type=pa.string())
    patient_id = pa.DictionaryArray.from_arrays(pa.array(pid, type=pa.int32()), names)

    # One observation set every ~4-8 h per patient, from a per-patient start in 2024.
    start_ms = np.int64(1_704_067_200_000)  # 2024-01-01T00:00:00Z
    hour = 3_600_000
    patient_start = rng.integers(0, 365 * 24 * hour, n_patients, dtype=np.int64)
    observed = start_ms + patient_start[pid] + rank * 6 * hour + rng.integers(-2 * hour, 2 * hour, n)
    observed_at = pa.array(observed, type=pa.timestamp("ms", tz="UTC"))

    resp_rate = _mixture(rng, n, (16, 2.2, 12, 20), (6, 35), 0.08, np.int16)
    spo2 = _mixture(rng, n, (96.5, 2.0, 92, 100), (75, 100), 0.05, np.int8)
    systolic_bp = _mixture(rng, n, (132, 20, 90, 200), (70, 240), 0.03, np.int16)
    pulse = _mixture(rng, n, (82, 15, 45, 140), (35, 170), 0.02, np.int16)

    # Temperature in tenths, most 35.0-38.5, a tail 34.0-41.0; sent as float32 (the nearest to the decimal).
    tenths = _mixture(rng, n, (368, 5, 350, 385), (340, 410), 0.06, np.int32)
    hundredths = tenths.astype(np.int64) * 10
    halfway = rng.random(n, dtype=np.float32) < halfway_share
    hundredths[halfway] += 5
    temperature = (hundredths / 100.0).astype(np.float32)

    spo2_scale = np.where(rng.random(n, dtype=np.float32) < 0.05, 2, 1).astype(np.int8)
    # Scale-2 patients are mostly on oxygen; otherwise ~8 %: ~10 % true overall.
    on_oxygen = rng.random(n, dtype=np.float32) < np.where(spo2_scale == 2, 0.5, 0.08).astype(np.float32)

    cum_p = np.cumsum(_CONSCIOUSNESS_P)[:-1].astype(np.float32)
    cons_idx = np.searchsorted(cum_p, rng.random(n, dtype=np.float32), side="right").astype(np.int8)

    # ~1 % nulls per scored item; never all seven in one row (that row would be rejected NO_VITAL_SIGNS).
    masks = [rng.random(n, dtype=np.float32) < null_share for _ in range(7)] if null_share > 0 else [None] * 7
    if null_share > 0:
        all_null = np.logical_and.reduce(masks)
        masks[0] &= ~all_null

    def arr(values, mask, pa_type=None):
        return pa.array(values, type=pa_type, mask=mask)

    consciousness = pa.DictionaryArray.from_arrays(
        arr(cons_idx, masks[5], pa.int8()), pa.array(CONSCIOUSNESS_LEVELS, type=pa.string())
    )
    return pa.table(
        {
            "patient_id": patient_id,
            "observed_at": observed_at,
            "resp_rate": arr(resp_rate, masks[0]),
            "spo2": arr(spo2, masks[1]),
            "systolic_bp": arr(systolic_bp, masks[3]),
            "pulse": arr(pulse, masks[4]),
            "temperature": arr(temperature, masks[6]),
            "spo2_scale": pa.array(spo2_scale),
            "on_oxygen": arr(on_oxygen, masks[2]),
            "consciousness": consciousness,
        }
    )


if __name__ == "__main__":
    import time

    t0 = time.perf_counter()
    t = generate(10_000_000)
    print(f"{time.perf_counter() - t0:.2f} s, {t.nbytes / 1e6:.0f} MB")
    print(t.schema)
    for row in t.slice(0, 5).to_pylist():
        print(row)
