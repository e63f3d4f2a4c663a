"""What `varde score` prints at the end of a run."""

from __future__ import annotations

from varde.scoring.schema import BANDS
from varde.scoring.summary import Counts

__all__ = ["render"]


def render(c: Counts) -> str:
    lines = [f"scored {c.rows:,} rows"]
    lines.append(f"  rejected: {c.rejected:,}")
    for reason, n in sorted(c.rejected_by_reason.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {reason:<32} {n:>12,}")
    if c.not_applicable:
        lines.append(f"  not applicable (under 16 or pregnant): {c.not_applicable:,}")
    lines.append(f"  incomplete (a parameter missing): {c.scored - c.complete:,}")
    lines.append("  NEWS2 band:")
    for band in BANDS:
        lines.append(f"    {band:<32} {c.bands.get(band, 0):>12,}")
    return "\n".join(lines)
