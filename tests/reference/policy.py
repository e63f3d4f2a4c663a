"""The risk policy applied to one patient at a time, read straight off the TOML file (slow, obviously right)."""

from __future__ import annotations

import string
import tomllib
from decimal import ROUND_HALF_UP, Decimal

TIERS = ("LOW", "MODERATE", "HIGH", "VERY_HIGH")


def tier(policy_path, row: dict) -> tuple[str, float, list[str]]:
    """(tier, points, reasons) of a row (column -> value, None = null)."""
    with open(policy_path, "rb") as f:
        doc = tomllib.load(f)
    scored = []
    for position, factor in enumerate(doc["factor"]):
        value = row.get(factor["column"])
        if value is None:
            continue
        got = 0
        for threshold, points in factor["thresholds"]:
            if float(value) >= threshold:
                got = points
        if got > 0:
            scored.append((got, position, _text(factor["reason"], value)))
    total = float(sum(p for p, _, _ in scored))
    name = "LOW"
    for t in TIERS:
        if total >= doc["tiers"][t]:
            name = t
    reasons = [text for _, _, text in sorted(scored, key=lambda s: (-s[0], s[1]))][:3]
    return name, total, reasons


def _text(reason: str, value) -> str:
    """{value} as Python writes it; {value:.Nf} rounded half away from zero on the decimal as written."""
    out = []
    for literal, name, spec, _ in string.Formatter().parse(reason):
        out.append(literal)
        if name:
            if isinstance(value, bool):
                out.append(str(int(value)))
            elif spec:
                places = Decimal(1).scaleb(-int(spec[1:-1]))
                out.append(str(Decimal(repr(float(value))).quantize(places, rounding=ROUND_HALF_UP)))
            else:
                out.append(str(value))
    return "".join(out)
