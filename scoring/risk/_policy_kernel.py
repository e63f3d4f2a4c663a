"""Policy kernel: per patient, the points of every factor, their sum, the tier and the factors shown as reasons.

One pass over the rows replaces a searchsorted per factor, a (factors x rows) points matrix and its argsort: those
numpy passes were three quarters of scoring a batch of patients (policy.py says what the policy means).
"""

from __future__ import annotations

from .._jit import parallel, prange, serial

BLOCK = 4096
MAX_REASONS = 3


@serial
def policy_block(lo, hi, values, thresholds, points, tier_points, total, tier, top, n_top):
    """Rows lo..hi-1. values: (factors, rows) float64, NaN where a value is null or its column absent (NaN reaches
    no threshold: 0 points). thresholds, points: (factors, width), ascending, a factor's last pair repeated to the
    width. Writes the sum of the points, the tier (the highest whose minimum the sum reaches) and the factors that
    gave points, most first and in file order on ties, at most MAX_REASONS (top[i, :n_top[i]])."""
    n_factors = values.shape[0]
    width = thresholds.shape[1]
    for i in range(lo, hi):
        s = 0.0
        p0 = p1 = p2 = 0.0
        f0 = f1 = f2 = -1
        for f in range(n_factors):
            v = values[f, i]
            step = 0
            for t in range(width):  # thresholds rise: the count of those reached is the step, without a branch
                step += thresholds[f, t] <= v
            p = points[f, step - 1] if step > 0 else 0.0
            s += p
            # Keep the three largest; strictly larger moves ahead, so ties stay in file order.
            if p > p2:
                if p > p1:
                    p2, f2 = p1, f1
                    if p > p0:
                        p1, f1 = p0, f0
                        p0, f0 = p, f
                    else:
                        p1, f1 = p, f
                else:
                    p2, f2 = p, f
        total[i] = s
        k = 0
        for t in range(tier_points.shape[0]):
            k += tier_points[t] <= s
        tier[i] = k - 1
        top[i, 0] = f0
        top[i, 1] = f1
        top[i, 2] = f2
        n_top[i] = (f0 >= 0) + (f1 >= 0) + (f2 >= 0)


@parallel
def policy_parallel(n, values, thresholds, points, tier_points, total, tier, top, n_top):
    nblocks = (n + BLOCK - 1) // BLOCK
    for b in prange(nblocks):
        policy_block(b * BLOCK, min(n, (b + 1) * BLOCK), values, thresholds, points, tier_points, total, tier, top,
                     n_top)
