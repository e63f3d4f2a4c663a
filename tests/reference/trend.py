"""The trend rule, read straight off docs/flags.md, over a patient's whole history (slow, obviously right)."""

from __future__ import annotations


def rising(history: list[tuple[int, int, int]], window: int) -> list[tuple[bool, int]]:
    """history: (time, total, risk) in time order. Per reading: (rising, baseline total or -1)."""
    out = []
    for i, (t, v, r) in enumerate(history):
        before = [h for h in history[:i] if t - window <= h[0] < t]
        baseline = min((h[1] for h in before), default=-1)
        up = baseline >= 0 and v - baseline >= 2
        if i > 0:
            pt, _, pr = history[i - 1]
            if t - window <= pt <= t and r > pr:
                up = True
        out.append((up, baseline))
    return out
