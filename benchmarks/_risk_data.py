"""Synthetic GP journal extracts for the risk benchmarks: seeded, vectorised.

N patients, ~5 ICD-10 diagnoses each (Poisson), ~75 % common codes in no Charlson group (I10, E78.5, J06.9, ... and
a few bare E11 / I25, under-specified) and ~25 % from the Quan 2005 prefixes with random extra digits; written as
journals do: dots (I50.9), ~8 % lower case, a few spaces before, after or instead of the dot; 0.5 % of patients have
a null list. Every code is well formed once normalised, so a plain prefix match and Varde's pattern check give the
same groups. ~6 ATC codes each (Poisson) sit beside them, unused by Charlson, so the table has a realistic size;
they feed the polypharmacy line when that part is present.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.reference.charlson import GROUPS, load_tables  # noqa: E402

__all__ = ["generate", "long_format"]

# Common diagnoses in no Charlson group (normalised; relative frequency). E11 and I25 alone are under-specified.
COMMON = {
    "I10": 40, "E785": 22, "E780": 8, "J069": 25, "J209": 12, "J00": 8, "M545": 20, "M171": 8, "M751": 6,
    "K210": 7, "K219": 5, "F321": 8, "F329": 6, "F411": 8, "F432": 7, "N390": 10, "R05": 9, "R51": 6, "R42": 5,
    "R104": 6, "H109": 4, "L309": 4, "E039": 9, "E669": 6, "E559": 5, "G439": 5, "G470": 4, "I489": 9, "I209": 4,
    "I251": 5, "J304": 5, "Z000": 10, "Z003": 3, "M791": 4, "M255": 5, "K590": 5, "D649": 4, "N40": 4, "I839": 3,
    "M810": 4, "B349": 4, "L700": 3, "H522": 2, "S934": 2, "S610": 2, "T784": 1, "A099": 3, "R509": 3, "Z711": 2,
    "C449": 2, "E11": 1, "I25": 1, "K70": 0.3, "Z49": 0.2,
}  # none of them is in a Charlson group (generate() checks)
# Relative frequency of each group among the Charlson-coded diagnoses; prefixes uniform within a group.
GROUP_SHARE = {
    "mi": 6, "chf": 8, "pvd": 5, "cevd": 8, "dementia": 4, "cpd": 18, "rheumd": 3, "pud": 2, "mld": 2, "diab": 15,
    "diabwc": 5, "hp": 1, "rend": 5, "canc": 12, "msld": 1, "metacanc": 3, "aids": 0.5,
}
ATC_LETTERS = np.frombuffer(b"ABCDGHJLMNPRSV", np.uint8)


def _strings(chars: np.ndarray, keep: np.ndarray) -> pa.Array:
    """string array whose i-th value is chars[i][keep[i]] (row-major, so each code's bytes stay in order)."""
    lengths = keep.sum(axis=1)
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = np.ascontiguousarray(chars[keep])
    return pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))


def _lists(counts: np.ndarray, values: pa.Array, null: np.ndarray | None) -> pa.Array:
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=None if null is None else pa.array(null))


def _pad(codes: list[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    chars = np.zeros((len(codes), width), np.uint8)
    for i, c in enumerate(codes):
        chars[i, : len(c)] = np.frombuffer(c.encode(), np.uint8)
    return chars, np.array([len(c) for c in codes], np.int64)


def icd10_codes(rng: np.random.Generator, m: int) -> pa.Array:
    """m ICD-10 codes as journals write them (see the module docstring)."""
    t = load_tables()
    by_group = {g: [p for gg, p in t.icd10 if gg == g] for g in GROUPS}
    catalogue = list(COMMON) + [p for g in GROUPS for p in by_group[g]]
    cat_chars, cat_len = _pad(catalogue, 7)
    sizes = np.array([len(by_group[g]) for g in GROUPS])
    starts = len(COMMON) + np.concatenate([[0], np.cumsum(sizes)[:-1]])

    charl = rng.random(m) < 0.25
    idx = np.empty(m, np.int64)
    w = np.array(list(COMMON.values()), float)
    idx[~charl] = rng.choice(len(COMMON), size=int((~charl).sum()), p=w / w.sum())
    k = int(charl.sum())
    gs = np.array([GROUP_SHARE[g] for g in GROUPS], float)
    g = rng.choice(len(GROUPS), size=k, p=gs / gs.sum())
    idx[charl] = starts[g] + (rng.random(k) * sizes[g]).astype(np.int64)

    base = cat_chars[idx]
    base_len = cat_len[idx]
    # Extra digits after a Quan prefix: I50 -> I50, I50.9, I50.91; E112 -> E11.2, E11.21.
    extra = np.where(base_len == 3, rng.choice(3, size=m, p=[0.25, 0.6, 0.15]),
                     rng.choice(2, size=m, p=[0.8, 0.2])) * charl
    j = np.arange(7)
    add = (j >= base_len[:, None]) & (j < (base_len + extra)[:, None])
    base[add] = rng.integers(48, 58, int(add.sum()), dtype=np.uint8)
    length = base_len + extra

    # Written form: [space] c0 c1 c2 [. or space] c3.. [space]; some lower case.
    out = np.full((m, 10), 32, np.uint8)
    out[:, 1:4] = base[:, :3]
    u = rng.random(m)
    out[:, 4] = np.where(u < 0.77, 46, 32)  # '.' or ' ' between rubric and subdivision
    out[:, 5:9] = base[:, 3:7]
    keep = np.zeros((m, 10), bool)
    keep[:, 0] = rng.random(m) < 0.01
    keep[:, 1:4] = True
    keep[:, 4] = (length > 3) & (u < 0.80)  # 77 % dot, 3 % space, 20 % nothing
    keep[:, 5:9] = np.arange(4) < (length - 3)[:, None]
    keep[:, 9] = rng.random(m) < 0.03
    lower = (rng.random(m) < 0.08)[:, None] & (out >= 65) & (out <= 90)
    out[lower] += 32
    return _strings(out, keep)


def atc_codes(rng: np.random.Generator, m: int, vocabulary: int = 600) -> pa.Array:
    """m ATC level-5 codes (C07AB02 shape) from a Zipf-like vocabulary."""
    v = np.empty((vocabulary, 7), np.uint8)
    v[:, 0] = rng.choice(ATC_LETTERS, vocabulary)
    v[:, 1:3] = rng.integers(48, 58, (vocabulary, 2))
    v[:, 3:5] = rng.integers(65, 91, (vocabulary, 2))
    v[:, 5:7] = rng.integers(48, 58, (vocabulary, 2))
    p = 1 / np.arange(1, vocabulary + 1) ** 0.9
    chars = v[rng.choice(vocabulary, size=m, p=p / p.sum())]
    return _strings(chars, np.ones((m, 7), bool))


def generate(n: int, seed: int = 0) -> pa.Table:
    """patient_id int64, icd10 list<string>, atc list<string> for n patients."""
    for code in COMMON:
        if any(code.startswith(p) for _, p in load_tables().icd10):
            raise AssertionError(f"COMMON code {code} is in a Charlson group")
    rng = np.random.default_rng(seed)
    null = rng.random(n) < 0.005
    n_icd = np.where(null, 0, rng.poisson(5, n))
    n_atc = rng.poisson(6, n)
    icd = _lists(n_icd, icd10_codes(rng, int(n_icd.sum())), null)
    atc = _lists(n_atc, atc_codes(rng, int(n_atc.sum())), None)
    return pa.table({"patient_id": pa.array(np.arange(n, dtype=np.int64)), "icd10": icd, "atc": atc})


def long_format(table: pa.Table, m: int) -> pa.Table:
    """(patient, code) one row per diagnosis of patients 0..m-1: what a registry extract looks like."""
    col = table.column("icd10").combine_chunks().slice(0, m)
    return pa.table({"patient": pc.list_parent_indices(col).cast(pa.int64()), "code": pc.list_flatten(col)})
