"""The slow, obviously correct twin of the Charlson part of the risk kernel.

Written from /work/shared/spec/risk.md ("Charlson Comorbidity Index") and the shipped code tables, one patient at a
time in plain Python, with no code shared with the kernel. The tables are read from ``scoring/risk/data/``:

- ``charlson_icd10_quan2005.csv`` (``group,prefix``): Quan et al., Med Care 2005;43:1130, Table 1, ICD-10 column;
- ``charlson_icpc2.csv`` (``group,icpc2,note``): ICPC-2 rubrics to the same groups (route and choices in the file);
- ``charlson_weights.csv`` (``group,name,weight_1987,weight_quan2011,hierarchy_replaces``): Charlson et al. 1987 and
  Quan et al., Am J Epidemiol 2011;173:676, and the hierarchy.

Lines starting with ``#`` in those files are comments. The group keys and their order are spelled out again here
(``GROUPS``) and checked against the files on loading, so a renamed or reordered group fails loudly.

Definitions (each one simple enough for a Numba kernel to reproduce exactly):

Normalising a code (both systems): drop every ``.`` and every whitespace character (the 29 code points for which
Python's ``str.isspace()`` is true, listed in ``WHITESPACE``: ASCII tab, line feed, vertical tab, form feed, carriage
return, U+001C-U+001F, space, U+0085, no-break space U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F,
U+3000), then turn ASCII ``a``-``z`` into ``A``-``Z``. No other character is changed, so any other non-ASCII
character stays and makes the code malformed. A code that is ``None`` or normalises to ``""`` is ignored entirely: it
is counted nowhere.

Each remaining code is counted once per occurrence (a code written twice is malformed twice), and the system is the
column's, never guessed from the code:

ICD-10 column
  - malformed: the normalised code does not match ``[A-Z][0-9]{2}[0-9A-Z]{0,4}`` in full (``428.0``, ``X``, ``12``,
    ``C1``, ``E11-``, ICD-10-CM ``C7A.0``). It matches nothing.
  - in a group: it starts with one of the group's prefixes (``E11.21`` -> ``E1121`` starts with ``E112``: diabwc).
    No prefix starts another, so a code is in at most one group.
  - under-specified: it is exactly 3 characters long, is in no group, and is the start of a longer (4-character)
    prefix of some group (``E11``, ``I25``, ``K70``, ``Z49``, ``G83``). It matches nothing.
  - otherwise (well-formed and in no group, the usual case, e.g. ``I10``, ``C86``, ``Z21``): counted nowhere.
  - never unknown: without the full ICD-10 code list there is no test of existence beyond the pattern.

ICPC-2 column
  - malformed: the normalised code does not match ``[A-Z][0-9]{2}[0-9]{0,2}`` in full: a letter, the two-digit
    rubric, and at most two more digits for national extensions such as the Norwegian ``R991`` (``K7``, ``77``,
    ``K77X``, ``-30``).
  - unknown: well-formed, but the letter is not one of the 17 ICPC-2 chapters ``ABDFHKLNPRSTUWXYZ`` (``I50``,
    ``E11``, ``J44.9``: ICD-10 codes sent in the ICPC-2 column). It matches nothing.
  - in a group: it starts with one of the group's rubrics in ``charlson_icpc2.csv`` (``K77``; ``K77.1`` ->
    ``K771`` counts as its rubric ``K77``).
  - otherwise (a real rubric in no group, e.g. ``K86``, ``K70``): counted nowhere.
  - never under-specified: the rubric is the finest level ICPC-2 has; where a rubric cannot tell two groups apart
    the table maps it to the milder group or not at all, and says so in its note.

Per patient: the groups found in both columns are pooled, each counted once; then the hierarchy of
``charlson_weights.csv`` removes the milder group when the severe one is present (diabwc removes diab, msld removes
mld, metacanc removes canc). ``groups`` lists what remains in table order; ``charlson_1987`` and
``charlson_quan2011`` are the sums of the remaining groups' weights (comorbidity points only, no age points).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["DATA_DIR", "GROUPS", "WHITESPACE", "Tables", "charlson", "load_tables", "normalise"]

DATA_DIR = Path(__file__).resolve().parents[2] / "scoring" / "risk" / "data"

# Quan 2005 Table 1 order, keys of the R package comorbidity.
GROUPS = ("mi", "chf", "pvd", "cevd", "dementia", "cpd", "rheumd", "pud", "mld", "diab", "diabwc", "hp", "rend",
          "canc", "msld", "metacanc", "aids")

# Every character for which str.isspace() is true, spelled out so the kernel can copy the list (a test checks it).
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

ICD10_PATTERN = re.compile(r"[A-Z][0-9]{2}[0-9A-Z]{0,4}")
ICPC2_PATTERN = re.compile(r"[A-Z][0-9]{2}[0-9]{0,2}")
ICPC2_CHAPTERS = frozenset("ABDFHKLNPRSTUWXYZ")


def normalise(code: str) -> str:
    """Drop dots and whitespace (``WHITESPACE``), upper-case ASCII letters; nothing else changes."""
    out = []
    for ch in code:
        if ch == "." or ch in WHITESPACE:
            continue
        if "a" <= ch <= "z":
            ch = chr(ord(ch) - ord("a") + ord("A"))
        out.append(ch)
    return "".join(out)


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines))


class Tables:
    """The three code tables as plain Python lists and dicts."""

    def __init__(self) -> None:
        weights = _read_csv("charlson_weights.csv")
        if tuple(r["group"] for r in weights) != GROUPS:
            raise ValueError(f"charlson_weights.csv groups {[r['group'] for r in weights]} != {GROUPS}")
        self.names = {r["group"]: r["name"] for r in weights}
        self.weight_1987 = {r["group"]: int(r["weight_1987"]) for r in weights}
        self.weight_quan2011 = {r["group"]: int(r["weight_quan2011"]) for r in weights}
        # (severe, mild) pairs
        self.hierarchy = [(r["group"], r["hierarchy_replaces"]) for r in weights if r["hierarchy_replaces"]]
        for severe, mild in self.hierarchy:
            if mild not in GROUPS:
                raise ValueError(f"{severe} replaces unknown group {mild!r}")

        # (group, prefix) pairs, in file order
        self.icd10 = [(r["group"], r["prefix"]) for r in _read_csv("charlson_icd10_quan2005.csv")]
        self.icpc2 = [(r["group"], r["icpc2"]) for r in _read_csv("charlson_icpc2.csv")]
        for name, table in (("ICD-10", self.icd10), ("ICPC-2", self.icpc2)):
            for group, prefix in table:
                if group not in GROUPS:
                    raise ValueError(f"{name} table: unknown group {group!r}")
                if prefix != normalise(prefix) or not prefix:
                    raise ValueError(f"{name} table: prefix {prefix!r} is not normalised")


@functools.cache
def load_tables() -> Tables:
    return Tables()


def _codes(codes: Iterable[str | None] | None) -> list[str]:
    """The non-empty normalised codes of one column, in order, duplicates kept."""
    if codes is None:
        return []
    if isinstance(codes, str):
        raise TypeError("a column is a list of codes, not one string")
    out = []
    for raw in codes:
        if raw is None:
            continue
        code = normalise(raw)
        if code:
            out.append(code)
    return out


def charlson(icd10: list[str] | None, icpc2: list[str] | None) -> dict:
    """Charlson groups, both scores and the code counts of one patient (definitions in the module docstring)."""
    t = load_tables()
    found: set[str] = set()
    unknown = malformed = underspecified = 0

    for code in _codes(icd10):
        if not ICD10_PATTERN.fullmatch(code):
            malformed += 1
            continue
        groups = {group for group, prefix in t.icd10 if code.startswith(prefix)}
        if groups:
            found |= groups
        elif len(code) == 3 and any(len(prefix) > 3 and prefix.startswith(code) for _, prefix in t.icd10):
            underspecified += 1

    for code in _codes(icpc2):
        if not ICPC2_PATTERN.fullmatch(code):
            malformed += 1
            continue
        if code[0] not in ICPC2_CHAPTERS:
            unknown += 1
            continue
        found |= {group for group, rubric in t.icpc2 if code.startswith(rubric)}

    for severe, mild in t.hierarchy:
        if severe in found:
            found.discard(mild)

    groups = [g for g in GROUPS if g in found]
    return {
        "groups": groups,
        "charlson_1987": sum(t.weight_1987[g] for g in groups),
        "charlson_quan2011": sum(t.weight_quan2011[g] for g in groups),
        "codes_unknown": unknown,
        "codes_malformed": malformed,
        "codes_underspecified": underspecified,
    }
