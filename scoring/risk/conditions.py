"""Multimorbidity and frailty from the same code columns: groups of codes, counted.

Multimorbidity: the number of distinct long-term conditions of Barnett K, Mercer SW, Norbury M, et al.
Epidemiology of multimorbidity and implications for health care, research, and medical education: a
cross-sectional study. Lancet 2012;380:37-43 (40 conditions), coded in ICPC-2 and ICD-10
(data/chronic_conditions.csv, every choice documented there).

Frailty: an electronic frailty index after Clegg A, Bates C, Young J, et al. Development and validation of an
electronic frailty index using routine primary care electronic health record data. Age Ageing 2016;45:353-60:
the share of 36 deficits present; fit <= 0.12, mild <= 0.24, moderate <= 0.36, severe above. The original is in
Read codes; data/efi_deficits.csv maps the deficits to ICPC-2, ICD-10 and ATC and says where it differs.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from .. import _pool
from ._codes import PrefixTable, read_rows
from ._lists import list_column
from .charlson import ATC, ICD10, ICPC2, match_codes

__all__ = ["EFI_BANDS", "EFI_DEFICITS", "condition_columns", "condition_tables", "finish_conditions"]

EFI_DEFICITS = 36
EFI_BANDS = ("fit", "mild", "moderate", "severe")
# Upper bound of each band in deficits present, out of 36: 0.12 -> 4, 0.24 -> 8, 0.36 -> 12 (a boundary value
# belongs to the lower band; no count of 36 lands exactly on one).
_BAND_LIMITS = np.array([4, 8, 12], np.int64)


class _Groups:
    def __init__(self, name: str, key: str):
        rows = read_rows(name)
        self.keys = tuple(dict.fromkeys(r[key] for r in rows))
        index = {k: i for i, k in enumerate(self.keys)}
        if len(index) > 64:
            raise ValueError(f"{name}: at most 64 groups fit the kernel's bitmask")
        self.tables = {
            system: PrefixTable([(r["code"].strip().upper(), index[r[key]]) for r in rows if r["system"] == system])
            for system in ("icd10", "icpc2", "atc")
        }
        self.rules = {r["code"]: index[r[key]] for r in rows if r["system"] == "rule"}


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[_Groups, _Groups]:
    efi = _Groups("efi_deficits.csv", "deficit")
    if len(efi.keys) != EFI_DEFICITS:
        raise ValueError(f"efi_deficits.csv lists {len(efi.keys)} deficits; the index is over {EFI_DEFICITS}")
    return _Groups("chronic_conditions.csv", "group"), efi


def condition_columns(n: int, icd10, icpc2, atc, polypharmacy_count: np.ndarray, *,
                      parallel: bool | None = None) -> dict[str, pa.Array]:
    """multimorbidity, efi, efi_band and efi_deficits (the count) for n patients. The codes' problems are
    counted by the Charlson and polypharmacy passes over the same columns, not again here."""
    chronic, efi = _tables()
    cols = {"icd10": list_column(icd10, "icd10"), "icpc2": list_column(icpc2, "icpc2")}
    systems = {"icd10": ICD10, "icpc2": ICPC2}
    conditions = _pool.zeros(n, np.uint64)
    for system in ("icd10", "icpc2"):
        match_codes(n, cols[system], chronic.tables[system], systems[system], conditions, parallel=parallel)
    deficits = _pool.zeros(n, np.uint64)
    for system in ("icd10", "icpc2"):
        match_codes(n, cols[system], efi.tables[system], systems[system], deficits, parallel=parallel)
    return finish_conditions(n, conditions, deficits, atc, polypharmacy_count, parallel=parallel)


def finish_conditions(n: int, conditions: np.ndarray, deficits: np.ndarray, atc, polypharmacy_count: np.ndarray, *,
                      parallel: bool | None = None) -> dict[str, pa.Array]:
    """The columns from the condition and deficit masks of the diagnosis codes: adds the ATC deficits and the
    polypharmacy rule."""
    _, efi = _tables()
    match_codes(n, list_column(atc, "atc"), efi.tables["atc"], ATC, deficits, parallel=parallel)
    rule = efi.rules.get("polypharmacy>=5")
    if rule is not None:
        deficits |= np.where(np.asarray(polypharmacy_count) >= 5, np.uint64(1) << np.uint64(rule), np.uint64(0))
    present = _popcount(deficits)
    band = np.searchsorted(_BAND_LIMITS, present, side="left").astype(np.int8)
    return {
        "multimorbidity": pa.array(_popcount(conditions).astype(np.int8)),
        "efi": pa.array(present / EFI_DEFICITS),
        "efi_band": pa.DictionaryArray.from_arrays(pa.array(band), pa.array(EFI_BANDS), safe=False),
        "efi_deficits": pa.array(present.astype(np.int8)),
    }


def condition_tables(system: str) -> tuple[PrefixTable, PrefixTable]:
    """The (conditions, frailty deficits) tables of a code system, for one fused pass with Charlson."""
    chronic, efi = _tables()
    return chronic.tables[system], efi.tables[system]


def _popcount(mask: np.ndarray) -> np.ndarray:
    return np.bitwise_count(mask).astype(np.int64) if hasattr(np, "bitwise_count") else np.array(
        [int(m).bit_count() for m in mask.tolist()], np.int64)
