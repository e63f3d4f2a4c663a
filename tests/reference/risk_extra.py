"""The slow, obviously correct twins of the multimorbidity, frailty (eFI) and polypharmacy parts of the risk kernel.

Written from /work/shared/spec/risk.md ("Multimorbidity", "Polypharmacy", "Frailty") and the shipped tables, one
patient at a time in plain Python. The code conventions (normalising, well-formed ICD-10 and ICPC-2 codes, the column
says the system) are those of ``tests/reference/charlson.py``, imported from there, not copied:

- ``scoring/risk/data/chronic_conditions.csv`` (``group,name,system,code``): the 40 conditions of Barnett K et al.
  Lancet 2012;380:37-43, mapped to ICPC-2 rubrics and ICD-10 prefixes (route and every choice in the file);
- ``scoring/risk/data/efi_deficits.csv`` (``deficit,name,system,code``): the 36 deficits of the electronic frailty
  index of Clegg A et al. Age Ageing 2016;45:353-60 (Box 1), mapped to ICPC-2, ICD-10 and ATC, one rule
  (polypharmacy) and one deficit no code can give (housebound).

The keys and their order are spelled out again here (``GROUPS``, ``DEFICITS``) and checked against the files on
loading, so a renamed or reordered row fails loudly.

Definitions (each simple enough for a Numba kernel to reproduce exactly):

Codes of every column are normalised by ``charlson.normalise`` (drop ``.`` and the whitespace of
``charlson.WHITESPACE``, upper-case ASCII letters); ``None`` and codes that normalise to ``""`` are ignored.

ICD-10 column: a code matching ``charlson.ICD10_PATTERN`` in full is in every row of system ``icd10`` whose code it
starts with (``E11.9`` -> ``E119`` starts with ``E11``: diabetes). Malformed codes match nothing; a 3-character code
whose rows are all longer (``F10`` against ``F101``..``F109``) matches nothing.
ICPC-2 column: a code matching ``charlson.ICPC2_PATTERN`` in full whose letter is one of ``charlson.ICPC2_CHAPTERS`` is
in every row of system ``icpc2`` whose code it starts with (``K86``, Norwegian ``K8601`` -> ``K86``). Others match
nothing. The column says the system: ``I10`` in the ICPC-2 column is nothing; ``K86`` in the ICD-10 column is ICD-10
K86 (pancreas), in no group.
ATC column (eFI only): a code is well-formed when it is an ATC code of level 5 (``ATC_SUBSTANCE``,
``[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}``, e.g. C07AB02) or of a shorter level 1-4 (``ATC_SHORTER``: C, C07, C07A, C07AB); a
well-formed code is in every row of system ``atc`` whose code it starts with (``N06DA02`` and ``N06D`` are
memory_cognitive, ``N06`` is nothing). Anything else is malformed and matches nothing.
No table code starts another of the same system (a test checks it), so a code is in at most one group or deficit.

multimorbidity(icd10, icpc2): ``groups`` = the groups found in either column, each once, in table order; ``count`` =
their number (0-40).

polypharmacy(atc): each non-empty normalised ATC code is one of
  - a substance: matches ``ATC_SUBSTANCE``; ``count`` = the number of distinct substances (the same code written
    twice, or written ``c07ab02`` and `` C07A B02 ``, counts once);
  - under-specified: matches ``ATC_SHORTER`` (levels 1-4: 1, 3, 4 or 5 characters); counted per occurrence in
    ``codes_underspecified``, not in ``count``;
  - malformed: anything else (2 or 6 characters, longer than 7, a character of the wrong kind or non-ASCII); counted
    per occurrence in ``codes_malformed``.
  ``band``: "none" for count < 5, "polypharmacy" for 5 <= count <= 9, "excessive" for count >= 10 (>= 5: the most
  common definition in the review of Masnoon N, Shakib S, Kalisch-Ellett L, Caughey GE. What is polypharmacy? A
  systematic review of definitions. BMC Geriatr 2017;17:230; >= 10 as the spec names it).
  ``medication_review_due``: count >= 4 (forskrift om fastlegeordning i kommunene, fastlegeforskriften, § 25: a
  medication review, legemiddelgjennomgang, for patients using four or more medicines when medically indicated).

efi(icd10, icpc2, atc, polypharmacy_count): ``deficits`` = the deficits found through the three columns, plus
``polypharmacy`` when ``polypharmacy_count`` (the ``count`` of polypharmacy() on the same patient's ATC column; None:
unknown, not present) is >= 5, each once, in table order. ``efi`` = len(deficits) / 36 as a float64 division, not
rounded (the denominator is always the 36 deficits of Clegg's list, including those no code can give). ``efi_band``:
``efi_band(efi)``: "fit" if efi <= 0.12, "mild" if <= 0.24, "moderate" if <= 0.36, else "severe" (Clegg 2016, the
cut-points of the four categories; boundaries belong to the lower band). With 36 deficits no count lands on a
boundary: fit is 0-4 deficits, mild 5-8, moderate 9-12, severe 13 or more, so a kernel may compare the integer count
instead and get the same bands.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from tests.reference.charlson import ICD10_PATTERN, ICPC2_CHAPTERS, ICPC2_PATTERN, _codes, _read_csv, normalise

__all__ = [
    "ATC_SHORTER", "ATC_SUBSTANCE", "DEFICITS", "EFI_BANDS", "EFI_DENOMINATOR", "GROUPS", "POLYPHARMACY_RULE",
    "atc_kind", "efi", "efi_band", "load_tables", "multimorbidity", "polypharmacy",
]

# Barnett et al. 2012, in the paper's order.
GROUPS = (
    "hypertension", "depression", "painful_condition", "asthma", "chd", "dyspepsia", "diabetes", "thyroid",
    "rheumatoid_arthritis", "hearing_loss", "copd", "anxiety", "ibs", "cancer", "alcohol", "substance_misuse",
    "constipation", "stroke_tia", "ckd", "diverticular", "atrial_fibrillation", "pvd", "heart_failure", "prostate",
    "glaucoma", "epilepsy", "dementia", "schizophrenia_bipolar", "psoriasis_eczema", "ibd", "migraine", "blindness",
    "chronic_sinusitis", "learning_disability", "anorexia_bulimia", "bronchiectasis", "parkinsons",
    "multiple_sclerosis", "viral_hepatitis", "chronic_liver_disease",
)

# Clegg et al. 2016, Box 1, in its (alphabetical) order.
DEFICITS = (
    "activity_limitation", "anaemia", "arthritis", "atrial_fibrillation", "cerebrovascular_disease",
    "chronic_kidney_disease", "diabetes", "dizziness", "dyspnoea", "falls", "foot_problems", "fragility_fracture",
    "hearing_impairment", "heart_failure", "heart_valve_disease", "housebound", "hypertension", "hypotension_syncope",
    "ischaemic_heart_disease", "memory_cognitive", "mobility_transfer", "osteoporosis", "parkinsonism_tremor",
    "peptic_ulcer", "peripheral_vascular_disease", "polypharmacy", "requirement_for_care", "respiratory_disease",
    "skin_ulcer", "sleep_disturbance", "social_vulnerability", "thyroid_disease", "urinary_incontinence",
    "urinary_system_disease", "visual_impairment", "weight_loss_anorexia",
)
EFI_DENOMINATOR = 36

# Clegg 2016: fit 0-0.12, mild >0.12-0.24, moderate >0.24-0.36, severe >0.36. (band, inclusive upper bound).
EFI_BANDS = (("fit", 0.12), ("mild", 0.24), ("moderate", 0.36))
EFI_TOP_BAND = "severe"

# The one rule-based deficit: Clegg 2016, ">=5 prescribed medications".
POLYPHARMACY_RULE = "polypharmacy>=5"
POLYPHARMACY_MIN = 5
EXCESSIVE_MIN = 10  # spec: >= 10 is excessive polypharmacy
REVIEW_MIN = 4  # fastlegeforskriften § 25: four or more medicines

ATC_SUBSTANCE = re.compile(r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}")
ATC_SHORTER = re.compile(r"[A-Z](?:[0-9]{2}(?:[A-Z][A-Z]?)?)?")

# A table code: a letter, then letters and digits (ICD-10 category or subcategory, ICPC-2 rubric, ATC level 1-5).
_TABLE_CODE = re.compile(r"[A-Z][0-9A-Z]{0,6}")


class Tables:
    """Both code tables as lists of (key, code) pairs per system."""

    def __init__(self) -> None:
        self.groups = self._load("chronic_conditions.csv", "group", GROUPS, {"icd10", "icpc2"})
        self.deficits = self._load("efi_deficits.csv", "deficit", DEFICITS, {"icd10", "icpc2", "atc", "rule", "none"})
        rules = self.deficits["rule"]
        if rules != [("polypharmacy", POLYPHARMACY_RULE)]:
            raise ValueError(f"efi_deficits.csv: the only rule must be polypharmacy {POLYPHARMACY_RULE!r}, got {rules}")
        if [key for key, _ in self.deficits["none"]] != ["housebound"]:
            raise ValueError(f"efi_deficits.csv: unexpected system none rows {self.deficits['none']}")

    @staticmethod
    def _load(name: str, key_column: str, keys: tuple[str, ...], systems: set[str]) -> dict:
        rows = _read_csv(name)
        if rows and list(rows[0]) != [key_column, "name", "system", "code"]:
            raise ValueError(f"{name}: columns {list(rows[0])}")
        order = list(dict.fromkeys(r[key_column] for r in rows))
        if tuple(order) != keys:
            raise ValueError(f"{name}: keys {order} != {keys}")
        names: dict[str, str] = {}
        table: dict[str, list[tuple[str, str]]] = {s: [] for s in systems}
        for r in rows:
            key, system, code = r[key_column], r["system"], r["code"]
            if names.setdefault(key, r["name"]) != r["name"] or not r["name"]:
                raise ValueError(f"{name}: {key} has names {names[key]!r} and {r['name']!r}")
            if system not in systems:
                raise ValueError(f"{name}: unknown system {system!r} in {r}")
            if system in ("icd10", "icpc2", "atc") and (code != normalise(code) or not _TABLE_CODE.fullmatch(code)):
                raise ValueError(f"{name}: code {code!r} is not a normalised code")
            table[system].append((key, code))
        table["names"] = names
        return table


@functools.cache
def load_tables() -> Tables:
    return Tables()


def atc_kind(code: str) -> str:
    """'substance', 'underspecified' or 'malformed' for a normalised, non-empty ATC code."""
    if ATC_SUBSTANCE.fullmatch(code):
        return "substance"
    if ATC_SHORTER.fullmatch(code):
        return "underspecified"
    return "malformed"


def _icd10_keys(codes: Iterable[str | None] | None, rows: list[tuple[str, str]]) -> set[str]:
    found: set[str] = set()
    for code in _codes(codes):
        if ICD10_PATTERN.fullmatch(code):
            found |= {key for key, prefix in rows if code.startswith(prefix)}
    return found


def _icpc2_keys(codes: Iterable[str | None] | None, rows: list[tuple[str, str]]) -> set[str]:
    found: set[str] = set()
    for code in _codes(codes):
        if ICPC2_PATTERN.fullmatch(code) and code[0] in ICPC2_CHAPTERS:
            found |= {key for key, rubric in rows if code.startswith(rubric)}
    return found


def _atc_keys(codes: Iterable[str | None] | None, rows: list[tuple[str, str]]) -> set[str]:
    found: set[str] = set()
    for code in _codes(codes):
        if atc_kind(code) != "malformed":
            found |= {key for key, prefix in rows if code.startswith(prefix)}
    return found


def multimorbidity(icd10: list[str | None] | None, icpc2: list[str | None] | None) -> dict:
    """Barnett 2012 chronic condition groups of one patient and their number (definitions in the module docstring)."""
    t = load_tables().groups
    found = _icd10_keys(icd10, t["icd10"]) | _icpc2_keys(icpc2, t["icpc2"])
    groups = [g for g in GROUPS if g in found]
    return {"groups": groups, "count": len(groups)}


def polypharmacy(atc: list[str | None] | None) -> dict:
    """Distinct ATC substances, band, medication review flag and code counts of one patient."""
    substances: set[str] = set()
    underspecified = malformed = 0
    for code in _codes(atc):
        kind = atc_kind(code)
        if kind == "substance":
            substances.add(code)
        elif kind == "underspecified":
            underspecified += 1
        else:
            malformed += 1
    count = len(substances)
    if count >= EXCESSIVE_MIN:
        band = "excessive"
    elif count >= POLYPHARMACY_MIN:
        band = "polypharmacy"
    else:
        band = "none"
    return {
        "count": count,
        "band": band,
        "medication_review_due": count >= REVIEW_MIN,
        "codes_malformed": malformed,
        "codes_underspecified": underspecified,
    }


def efi_band(value: float) -> str:
    """Clegg 2016 category of an eFI value; a value on a cut-point belongs to the lower band."""
    for name, upper in EFI_BANDS:
        if value <= upper:
            return name
    return EFI_TOP_BAND


def efi(icd10: list[str | None] | None, icpc2: list[str | None] | None, atc: list[str | None] | None,
        polypharmacy_count: int | None) -> dict:
    """Electronic frailty index of one patient (definitions in the module docstring)."""
    t = load_tables().deficits
    found = _icd10_keys(icd10, t["icd10"]) | _icpc2_keys(icpc2, t["icpc2"]) | _atc_keys(atc, t["atc"])
    if polypharmacy_count is not None and polypharmacy_count >= POLYPHARMACY_MIN:
        found.add("polypharmacy")
    deficits = [d for d in DEFICITS if d in found]
    value = len(deficits) / EFI_DENOMINATOR
    return {"deficits": deficits, "efi": value, "efi_band": efi_band(value)}
