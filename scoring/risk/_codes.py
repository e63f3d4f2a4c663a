"""Code tables as arrays the kernels read: ICD-10 and ICPC-2 codes packed into integers.

A normalised code (upper case, no dots, no whitespace) of up to 7 characters is packed base 37, first character
most significant: A-Z -> 1-26, 0-9 -> 27-36. The key of its first L characters is then the integer division of the
full key by 37 ** (length - L), so a prefix look-up is a division and a binary search in a sorted table.
"""

from __future__ import annotations

import csv
import pathlib

import numpy as np

__all__ = ["DATA", "MAX_LEN", "PrefixTable", "pack", "read_rows"]

DATA = pathlib.Path(__file__).resolve().parent / "data"
MAX_LEN = 7
MAX_PREFIX = 5


def pack(code: str) -> int:
    key = 0
    for ch in code:
        if "A" <= ch <= "Z":
            key = key * 37 + (ord(ch) - 64)
        elif "0" <= ch <= "9":
            key = key * 37 + (ord(ch) - 48 + 27)
        else:
            raise ValueError(f"{code!r}: only A-Z and 0-9 can be packed")
    return key


def read_rows(name: str) -> list[dict]:
    """Rows of a shipped CSV table; lines starting with # are its provenance notes."""
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#") and line.strip()))


class PrefixTable:
    """Prefixes of lengths 1..MAX_PREFIX -> bitmask of groups, as sorted key arrays per length.

    keys[L] and masks[L] (L = 0..MAX_PREFIX; 0 unused) are padded to one width so that Numba gets one 2-D array:
    `counts[L]` entries of row L are in use. `under[k]`: the sorted 3-character keys that are the start of a longer
    prefix but no prefix themselves (a code of 3 characters there cannot be placed).
    """

    def __init__(self, pairs: list[tuple[str, int]]):
        per_len: dict[int, dict[int, int]] = {}
        for prefix, group in pairs:
            if not 1 <= len(prefix) <= MAX_PREFIX:
                raise ValueError(f"prefix {prefix!r}: 1 to {MAX_PREFIX} characters")
            if not 0 <= group < 61:
                raise ValueError(f"group {group} of {prefix!r}: at most 61 groups (the code memo keeps an outcome "
                                 "in a mask's top 3 bits)")
            d = per_len.setdefault(len(prefix), {})
            key = pack(prefix)
            d[key] = d.get(key, 0) | (1 << group)
        width = max((len(d) for d in per_len.values()), default=1)
        self.keys = np.full((MAX_PREFIX + 1, width), np.iinfo(np.int64).max, np.int64)
        self.masks = np.zeros((MAX_PREFIX + 1, width), np.uint64)
        self.counts = np.zeros(MAX_PREFIX + 1, np.int64)
        for length, d in per_len.items():
            ordered = sorted(d.items())
            self.counts[length] = len(ordered)
            self.keys[length, :len(ordered)] = [k for k, _ in ordered]
            self.masks[length, :len(ordered)] = [m for _, m in ordered]
        three = set(per_len.get(3, {}))
        starts = {prefix[:3] for prefix, _ in pairs if len(prefix) > 3}
        self.under = np.array(sorted(pack(p) for p in starts if pack(p) not in three), np.int64)
        if self.under.size == 0:
            self.under = np.full(1, np.iinfo(np.int64).max, np.int64)
        # Direct look-up for the 3- and 4-character prefixes (the whole Quan 2005 table): the packed key indexes a
        # byte that names a group mask; index 0 is "no group". 37**4 bytes = 1.9 MB.
        distinct = sorted({m for d in per_len.values() for m in d.values()})
        if len(distinct) > 254:
            raise ValueError("more than 254 distinct group sets in one table")
        self.lut_masks = np.array([0, *distinct], np.uint64)
        index = {m: i + 1 for i, m in enumerate(distinct)}
        self.lut3 = np.zeros(37 ** 3, np.uint8)
        self.lut4 = np.zeros(37 ** 4, np.uint8)
        for length, lut in ((3, self.lut3), (4, self.lut4)):
            for key, m in per_len.get(length, {}).items():
                lut[key] = index[m]
        self.under3 = np.zeros(37 ** 3, np.uint8)
        self.under3[self.under[self.under < 37 ** 3]] = 1
        for a in (self.keys, self.masks, self.counts, self.under, self.lut_masks, self.lut3, self.lut4, self.under3):
            a.flags.writeable = False
