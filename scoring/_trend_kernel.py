"""The per-patient trend kernel: arrays in, arrays out; see trend.py for the contract."""

from __future__ import annotations

import numpy as np

from ._jit import serial

# At most one candidate per total 0..20: the candidates' totals rise strictly with time.
K = 24


@serial
def trend(starts, t, total, risk, window, cand_n, cand_t, cand_v, last_t, last_risk, last_base, rising, baseline):
    """Rows are grouped by patient (group g = rows starts[g]:starts[g+1]) and in time order within a group.

    cand_*: per patient, the readings that can still be the lowest of a window ending now or later: ascending
    in time and strictly ascending in total (a reading with a newer one at or below it never can). Updated in
    place, with last_t/last_risk (the newest reading's time and clinical risk; last_risk -1 = none).
    """
    groups = starts.shape[0] - 1
    for g in range(groups):
        n = cand_n[g]
        for i in range(starts[g], starts[g + 1]):
            ti = t[i]
            vi = total[i]
            # Baseline: the lowest total in [ti - window, ti); candidates ascend in total, so the first in range.
            base = -1
            if last_risk[g] >= 0 and last_t[g] == ti:
                base = last_base[g]
            else:
                for k in range(n):
                    if cand_t[g, k] >= ti - window:
                        if cand_t[g, k] < ti:
                            base = cand_v[g, k]
                        break
            baseline[i] = base
            up = base >= 0 and vi - base >= 2
            if last_risk[g] >= 0 and last_t[g] >= ti - window and last_t[g] <= ti and risk[i] > last_risk[g]:
                up = True
            rising[i] = up
            # Insert (ti, vi) at its place in time; skip it when a reading at or after it is at or below it.
            p = n
            while p > 0 and cand_t[g, p - 1] > ti:
                p -= 1
            if not (p < n and cand_v[g, p] <= vi):
                q = p  # drop earlier candidates at or above vi: entries q..p-1
                while q > 0 and cand_v[g, q - 1] >= vi:
                    q -= 1
                # new layout: [0, q) + (ti, vi) + [p, n)
                tail = n - p
                shift = q + 1 - p
                if shift > 0:
                    for k in range(tail - 1, -1, -1):
                        cand_t[g, p + shift + k] = cand_t[g, p + k]
                        cand_v[g, p + shift + k] = cand_v[g, p + k]
                elif shift < 0:
                    for k in range(tail):
                        cand_t[g, p + shift + k] = cand_t[g, p + k]
                        cand_v[g, p + shift + k] = cand_v[g, p + k]
                cand_t[g, q] = ti
                cand_v[g, q] = vi
                n = n + shift
            if last_risk[g] < 0 or ti >= last_t[g]:
                last_t[g] = ti
                last_risk[g] = risk[i]
                last_base[g] = base
        # Forget what no future window can reach.
        newest = last_t[g]
        drop = 0
        while drop < n and cand_t[g, drop] < newest - window:
            drop += 1
        if drop:
            for k in range(n - drop):
                cand_t[g, k] = cand_t[g, k + drop]
                cand_v[g, k] = cand_v[g, k + drop]
            n -= drop
        cand_n[g] = n


def empty_state(groups: int):
    return (np.zeros(groups, np.int64), np.zeros((groups, K), np.int64), np.zeros((groups, K), np.int8),
            np.zeros(groups, np.int64), np.full(groups, -1, np.int8), np.full(groups, -1, np.int8))
