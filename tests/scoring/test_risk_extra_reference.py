"""The slow multimorbidity, eFI and polypharmacy references (tests/reference/risk_extra.py) and their tables, by hand.

Every expectation below was worked out by hand, not by running the reference: the group and deficit of a code from
the tables' documented mapping (scoring/risk/data/chronic_conditions.csv: Barnett K et al. Lancet 2012;380:37-43;
scoring/risk/data/efi_deficits.csv: Clegg A et al. Age Ageing 2016;45:353-60, Box 1), the code conventions from
/work/shared/spec/risk.md and tests/reference/charlson.py, eFI = deficits present / 36 with the bands fit <= 0.12,
mild <= 0.24, moderate <= 0.36, severe above (Clegg 2016), polypharmacy >= 5 and >= 10 (Masnoon N et al. BMC Geriatr
2017;17:230; the spec), medication review at >= 4 (fastlegeforskriften § 25).

With 36 deficits the bands are, in numbers of deficits: fit 0-4 (4/36 = 0.111), mild 5-8 (5/36 = 0.139,
8/36 = 0.222), moderate 9-12 (9/36 = 0.25, 12/36 = 0.333), severe 13-36 (13/36 = 0.361).
"""

from __future__ import annotations

import csv
import math
import re

import pytest

from tests.reference import risk_extra as ref
from tests.reference.charlson import DATA_DIR


def _table(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _span(letter: str, first: int, last: int) -> list[str]:
    """_span("I", 20, 25) -> I20 I21 I22 I23 I24 I25: ICD-10 categories written as a range."""
    return [f"{letter}{n:02d}" for n in range(first, last + 1)]


# =================================================================================================================
# The chronic conditions table (Barnett 2012)

BARNETT_NAMES = [
    "Hypertension",
    "Depression",
    "Painful condition",
    "Asthma (currently treated)",
    "Coronary heart disease",
    "Treated dyspepsia",
    "Diabetes",
    "Thyroid disorders",
    "Rheumatoid arthritis, other inflammatory polyarthropathies & systematic connective tissue disorders",
    "Hearing loss",
    "Chronic obstructive pulmonary disease",
    "Anxiety & other neurotic, stress related & somatoform disorders",
    "Irritable bowel syndrome",
    "New diagnosis of cancer in last five years",
    "Alcohol problems",
    "Other psychoactive substance misuse",
    "Treated constipation",
    "Stroke & transient ischaemic attack",
    "Chronic kidney disease",
    "Diverticular disease of intestine",
    "Atrial fibrillation",
    "Peripheral vascular disease",
    "Heart failure",
    "Prostate disorders",
    "Glaucoma",
    "Epilepsy (currently treated)",
    "Dementia",
    "Schizophrenia (and related non-organic psychosis) or bipolar disorder",
    "Psoriasis or eczema",
    "Inflammatory bowel disease",
    "Migraine",
    "Blindness & low vision",
    "Chronic sinusitis",
    "Learning disability",
    "Anorexia or bulimia",
    "Bronchiectasis",
    "Parkinson's disease",
    "Multiple sclerosis",
    "Viral Hepatitis",
    "Chronic liver disease",
]

# The mapping choices of chronic_conditions.csv (reasons in its comments): any change to the table must change this.
CHRONIC_ICPC2 = {
    "hypertension": "K86 K87",
    "depression": "P76",
    "painful_condition": "A01",
    "asthma": "R96",
    "chd": "K74 K75 K76",
    "dyspepsia": "D07 D84 D85 D86",
    "diabetes": "T89 T90",
    "thyroid": "T81 T85 T86",
    "rheumatoid_arthritis": "L88",
    "hearing_loss": "H84 H86",
    "copd": "R79 R95",
    "anxiety": "P02 P74 P75 P78 P79 P82",
    "ibs": "D93",
    "cancer": "A79 B72 B73 B74 D74 D75 D76 D77 L71 N74 R84 R85 T71 U75 U76 U77 W72 X75 X76 X77 Y77 Y78",
    "alcohol": "P15",
    "substance_misuse": "P18 P19",
    "constipation": "D12",
    "stroke_tia": "K89 K90 K91",
    "ckd": "U99",
    "diverticular": "D92",
    "atrial_fibrillation": "K78",
    "pvd": "K92",
    "heart_failure": "K77",
    "prostate": "Y73 Y85",
    "glaucoma": "F93",
    "epilepsy": "N88",
    "dementia": "P70",
    "schizophrenia_bipolar": "P72 P73 P98",
    "psoriasis_eczema": "S87 S91",
    "ibd": "D94",
    "migraine": "N89",
    "blindness": "F28 F94",
    "chronic_sinusitis": "",
    "learning_disability": "P85",
    "anorexia_bulimia": "P86",
    "bronchiectasis": "",
    "parkinsons": "N87",
    "multiple_sclerosis": "N86",
    "viral_hepatitis": "D72",
    "chronic_liver_disease": "D97",
}

CHRONIC_ICD10 = {
    "hypertension": "I10 I11 I12 I13 I15".split(),
    "depression": "F32 F33 F341".split(),
    "painful_condition": "R521 R522".split(),
    "asthma": "J45 J46".split(),
    "chd": _span("I", 20, 25),
    "dyspepsia": "K20 K21 K25 K26 K27 K28 K30".split(),
    "diabetes": _span("E", 10, 14),
    "thyroid": _span("E", 1, 7),
    "rheumatoid_arthritis": _span("M", 5, 9) + _span("M", 30, 36) + ["M45"],
    "hearing_loss": "H90 H91".split(),
    "copd": _span("J", 41, 44),
    "anxiety": _span("F", 40, 45) + ["F48"],
    "ibs": ["K58"],
    # C00-C97 except C44 and the numbers ICD-10 does not use (C27-C29, C35, C36, C42, C59, C87, C89)
    "cancer": (_span("C", 0, 26) + _span("C", 30, 34) + _span("C", 37, 41) + ["C43"] + _span("C", 45, 58)
               + _span("C", 60, 86) + ["C88"] + _span("C", 90, 97)),
    "alcohol": "F101 F102 F103 F104 F105 F106 F107 F108 F109 G312".split(),
    "substance_misuse": "F11 F12 F13 F14 F15 F16 F18 F19".split(),
    "constipation": ["K590"],
    "stroke_tia": ["G45", "G46"] + _span("I", 60, 69),
    "ckd": "N18 N19 Z49 Z940 Z992".split(),
    "diverticular": ["K57"],
    "atrial_fibrillation": ["I48"],
    "pvd": "I70 I73".split(),
    "heart_failure": ["I50"],
    "prostate": "N40 N41 N42".split(),
    "glaucoma": "H40 H42".split(),
    "epilepsy": "G40 G41".split(),
    "dementia": "F00 F01 F02 F03 G30 G311".split(),
    "schizophrenia_bipolar": _span("F", 20, 25) + "F28 F29 F30 F31 F340".split(),
    "psoriasis_eczema": "L20 L40".split(),
    "ibd": "K50 K51".split(),
    "migraine": ["G43"],
    "blindness": ["H54"],
    "chronic_sinusitis": ["J32"],
    "learning_disability": "F70 F71 F72 F73 F78 F79".split(),
    "anorexia_bulimia": "F500 F501 F502 F503".split(),
    "bronchiectasis": ["J47"],
    "parkinsons": ["G20"],
    "multiple_sclerosis": ["G35"],
    "viral_hepatitis": _span("B", 15, 19),
    "chronic_liver_disease": "K70 K73 K74 K760 K766".split(),
}


def test_chronic_conditions_are_barnetts_40_in_order():
    rows = _table("chronic_conditions.csv")
    assert list(rows[0]) == ["group", "name", "system", "code"]
    names = dict.fromkeys((r["group"], r["name"]) for r in rows)
    assert [n for _, n in names] == BARNETT_NAMES
    assert [g for g, _ in names] == list(ref.GROUPS)
    assert len(ref.GROUPS) == len(set(ref.GROUPS)) == 40


def test_chronic_conditions_mapping():
    rows = _table("chronic_conditions.csv")
    assert {r["system"] for r in rows} == {"icpc2", "icd10"}
    icpc2 = {g: " ".join(r["code"] for r in rows if r["group"] == g and r["system"] == "icpc2") for g in ref.GROUPS}
    icd10 = {g: [r["code"] for r in rows if r["group"] == g and r["system"] == "icd10"] for g in ref.GROUPS}
    assert icpc2 == CHRONIC_ICPC2
    assert icd10 == CHRONIC_ICD10
    assert len(CHRONIC_ICD10["cancer"]) == 98 - 1 - 9  # C00-C97, less C44, less the 9 unused numbers


def test_only_two_groups_have_no_icpc2_rubric():
    assert [g for g, rubrics in CHRONIC_ICPC2.items() if not rubrics] == ["chronic_sinusitis", "bronchiectasis"]


# =================================================================================================================
# The eFI deficits table (Clegg 2016, Box 1)

CLEGG_BOX_1 = [
    "Activity limitation",
    "Anaemia and haematinic deficiency",
    "Arthritis",
    "Atrial fibrillation",
    "Cerebrovascular disease",
    "Chronic kidney disease",
    "Diabetes",
    "Dizziness",
    "Dyspnoea",
    "Falls",
    "Foot problems",
    "Fragility fracture",
    "Hearing impairment",
    "Heart failure",
    "Heart valve disease",
    "Housebound",
    "Hypertension",
    "Hypotension/syncope",
    "Ischaemic heart disease",
    "Memory and cognitive problems",
    "Mobility and transfer problems",
    "Osteoporosis",
    "Parkinsonism and tremor",
    "Peptic ulcer",
    "Peripheral vascular disease",
    "Polypharmacy",
    "Requirement for care",
    "Respiratory disease",
    "Skin ulcer",
    "Sleep disturbance",
    "Social vulnerability",
    "Thyroid disease",
    "Urinary incontinence",
    "Urinary system disease",
    "Visual impairment",
    "Weight loss and anorexia",
]

# The mapping choices of efi_deficits.csv (reasons in its comments): any change to the table must change this.
EFI_ICPC2 = {
    "activity_limitation": "A28 B28 D28 K28 N28 P28 R28 S28 T28 U28 W28 X28 Y28 Z28",
    "anaemia": "B78 B80 B81 B82",
    "arthritis": "L88 L89 L90 L91 T92",
    "atrial_fibrillation": "K78",
    "cerebrovascular_disease": "K89 K90 K91",
    "chronic_kidney_disease": "",
    "diabetes": "T89 T90",
    "dizziness": "H82 N17",
    "dyspnoea": "R02",
    "falls": "A29",
    "foot_problems": "L17 S20 S94",
    "fragility_fracture": "L72 L75 L76",
    "hearing_impairment": "H28 H84 H86",
    "heart_failure": "K77",
    "heart_valve_disease": "K71 K83",
    "housebound": "",
    "hypertension": "K86 K87",
    "hypotension_syncope": "A06 K88",
    "ischaemic_heart_disease": "K74 K75 K76",
    "memory_cognitive": "P20 P70 P71",
    "mobility_transfer": "L28",
    "osteoporosis": "L95",
    "parkinsonism_tremor": "N08 N87",
    "peptic_ulcer": "D85 D86",
    "peripheral_vascular_disease": "K92",
    "polypharmacy": "",
    "requirement_for_care": "",
    "respiratory_disease": "R79 R95 R96",
    "skin_ulcer": "S97",
    "sleep_disturbance": "P06",
    "social_vulnerability": "Z03 Z04 Z15 Z29",
    "thyroid_disease": "T81 T85 T86",
    "urinary_incontinence": "U04",
    "urinary_system_disease": "U08 U88 U95 U99",
    "visual_impairment": "F28 F84 F92 F93 F94",
    "weight_loss_anorexia": "T03 T08",
}

EFI_ICD10 = {
    "activity_limitation": ["Z736"],
    "anaemia": ["D46"] + _span("D", 50, 53) + _span("D", 55, 64) + ["E538", "E611"],
    "arthritis": _span("M", 5, 19) + ["M45"],
    "atrial_fibrillation": ["I48"],
    "cerebrovascular_disease": ["G45", "G46"] + _span("I", 60, 69),
    "chronic_kidney_disease": "N18 N19 Z49 Z940 Z992".split(),
    "diabetes": _span("E", 10, 14),
    "dizziness": "H81 H82 R42".split(),
    "dyspnoea": ["R060"],
    "falls": ["R296"] + _span("W", 0, 19),
    "foot_problems": "L600 L84 M201 M202 M203 M204 M205 M206 M774".split(),
    "fragility_fracture": "M485 M844 S22 S32 S42 S52 S72".split(),
    "hearing_impairment": "H90 H91 Z974".split(),
    "heart_failure": ["I50"],
    "heart_valve_disease": _span("I", 5, 8) + _span("I", 34, 37) + "I39 Z952 Z953 Z954".split(),
    "housebound": [],
    "hypertension": "I10 I11 I12 I13 I15".split(),
    "hypotension_syncope": "I95 R55".split(),
    "ischaemic_heart_disease": _span("I", 20, 25),
    "memory_cognitive": _span("F", 0, 7) + "F09 G30 G311 R41".split(),
    "mobility_transfer": "R26 Z740 Z993".split(),
    "osteoporosis": "M80 M81 M82".split(),
    "parkinsonism_tremor": "G20 G21 G22 G250 G251 G252 R251".split(),
    "peptic_ulcer": _span("K", 25, 28),
    "peripheral_vascular_disease": "I70 I73".split(),
    "polypharmacy": [],
    "requirement_for_care": "Z741 Z742 Z743 Z748 Z749".split(),
    "respiratory_disease": _span("J", 41, 47) + "J84 J961".split(),
    "skin_ulcer": "I830 I832 L89 L97 L984".split(),
    "sleep_disturbance": "F51 G470 G471 G472 G478 G479".split(),
    "social_vulnerability": "Z590 Z591 Z592 Z593 Z60 Z634 Z635".split(),
    "thyroid_disease": _span("E", 1, 7),
    "urinary_incontinence": "N393 N394 R32".split(),
    "urinary_system_disease": (_span("N", 0, 8) + "N11 N13 N14 N20 N21 N22 N25 N26 N27 N28 N31 N32 N35 N36".split()
                               + ["R33"]),
    "visual_impairment": "H25 H26 H28 H353 H40 H42 H54".split(),
    "weight_loss_anorexia": "E40 E41 E42 E43 E44 E46 R630 R634 R64".split(),
}

EFI_ATC = {
    "anaemia": "B03A B03B",
    "memory_cognitive": "N06D",
    "osteoporosis": "M05BA M05BB",
    "parkinsonism_tremor": "N04BA N04BD N04BX",
    "respiratory_disease": "R03",
    "sleep_disturbance": "N05CD N05CF N05CH",
    "thyroid_disease": "H03A H03B",
    "urinary_incontinence": "G04BD",
}


def test_efi_deficits_are_cleggs_36_in_order():
    rows = _table("efi_deficits.csv")
    assert list(rows[0]) == ["deficit", "name", "system", "code"]
    names = dict.fromkeys((r["deficit"], r["name"]) for r in rows)
    assert [n for _, n in names] == CLEGG_BOX_1
    assert [d for d, _ in names] == list(ref.DEFICITS)
    assert len(ref.DEFICITS) == ref.EFI_DENOMINATOR == 36


def test_efi_mapping():
    rows = _table("efi_deficits.csv")
    assert {r["system"] for r in rows} == {"icpc2", "icd10", "atc", "rule", "none"}

    def codes(deficit, system):
        return [r["code"] for r in rows if r["deficit"] == deficit and r["system"] == system]

    assert {d: " ".join(codes(d, "icpc2")) for d in ref.DEFICITS} == EFI_ICPC2
    assert {d: codes(d, "icd10") for d in ref.DEFICITS} == EFI_ICD10
    assert {d: " ".join(codes(d, "atc")) for d in ref.DEFICITS if codes(d, "atc")} == EFI_ATC
    assert [(r["deficit"], r["code"]) for r in rows if r["system"] == "rule"] == [("polypharmacy", "polypharmacy>=5")]
    assert [(r["deficit"], r["code"]) for r in rows if r["system"] == "none"] == [("housebound", "")]


def test_deficits_no_code_can_give():
    assert [d for d in ref.DEFICITS if not EFI_ICPC2[d] and not EFI_ICD10[d] and d not in EFI_ATC] == [
        "housebound", "polypharmacy"]
    assert [d for d in ref.DEFICITS if not EFI_ICPC2[d]] == [
        "chronic_kidney_disease", "housebound", "polypharmacy", "requirement_for_care"]


# =================================================================================================================
# Both tables: codes are normalised and well-formed, and no code starts another of the same system

PATTERNS = {
    "icpc2": r"[ABDFHKLNPRSTUWXYZ][0-9]{2}",
    "icd10": r"[A-Z][0-9]{2}[0-9]?",
    "atc": r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?",
}


@pytest.mark.parametrize("name", ["chronic_conditions.csv", "efi_deficits.csv"])
def test_table_codes_are_well_formed_and_disjoint(name):
    rows = _table(name)
    for system, pattern in PATTERNS.items():
        codes = [r["code"] for r in rows if r["system"] == system]
        assert all(re.fullmatch(pattern, c) for c in codes), [c for c in codes if not re.fullmatch(pattern, c)]
        assert len(codes) == len(set(codes)), system
        assert [(a, b) for a in codes for b in codes if a != b and b.startswith(a)] == [], system


def test_table_comments_are_at_the_top():
    for name in ("chronic_conditions.csv", "efi_deficits.csv"):
        lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
        first_data = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        assert not any(line.startswith("#") for line in lines[first_data:]), name
        assert first_data > 20, name


# =================================================================================================================
# multimorbidity: one patient per group, in each system

ONE_PER_GROUP = [
    # (group, an ICPC-2 code of it or None, an ICD-10 code of it)
    ("hypertension", "K86", "I10"),
    ("depression", "P76", "F32.1"),
    ("painful_condition", "A01", "R52.2"),
    ("asthma", "R96", "J45.9"),
    ("chd", "K74", "I25.1"),
    ("dyspepsia", "D84", "K21.9"),
    ("diabetes", "T90", "E11.9"),
    ("thyroid", "T86", "E03.9"),
    ("rheumatoid_arthritis", "L88", "M06.9"),
    ("hearing_loss", "H86", "H91.1"),
    ("copd", "R95", "J44.9"),
    ("anxiety", "P74", "F41.1"),
    ("ibs", "D93", "K58.9"),
    ("cancer", "X76", "C50.9"),
    ("alcohol", "P15", "F10.2"),
    ("substance_misuse", "P19", "F11.2"),
    ("constipation", "D12", "K59.0"),
    ("stroke_tia", "K90", "I63.9"),
    ("ckd", "U99", "N18.4"),
    ("diverticular", "D92", "K57.3"),
    ("atrial_fibrillation", "K78", "I48.9"),
    ("pvd", "K92", "I70.2"),
    ("heart_failure", "K77", "I50.0"),
    ("prostate", "Y85", "N40"),
    ("glaucoma", "F93", "H40.1"),
    ("epilepsy", "N88", "G40.9"),
    ("dementia", "P70", "F03"),
    ("schizophrenia_bipolar", "P72", "F20.0"),
    ("psoriasis_eczema", "S91", "L40.0"),
    ("ibd", "D94", "K51.9"),
    ("migraine", "N89", "G43.9"),
    ("blindness", "F94", "H54.0"),
    ("chronic_sinusitis", None, "J32.9"),
    ("learning_disability", "P85", "F70"),
    ("anorexia_bulimia", "P86", "F50.0"),
    ("bronchiectasis", None, "J47"),
    ("parkinsons", "N87", "G20"),
    ("multiple_sclerosis", "N86", "G35"),
    ("viral_hepatitis", "D72", "B18.2"),
    ("chronic_liver_disease", "D97", "K74.6"),
]


def test_one_patient_per_group_covers_every_group():
    assert [g for g, _, _ in ONE_PER_GROUP] == list(ref.GROUPS)


@pytest.mark.parametrize("group,icpc2,icd10", ONE_PER_GROUP, ids=[g for g, _, _ in ONE_PER_GROUP])
def test_one_group(group, icpc2, icd10):
    one = {"groups": [group], "count": 1}
    assert ref.multimorbidity([icd10], None) == one
    assert ref.multimorbidity([icd10], [icpc2] if icpc2 else []) == one
    if icpc2:
        assert ref.multimorbidity(None, [icpc2]) == one


MULTIMORBIDITY = [
    # (id, ICD-10, ICPC-2, groups in table order)
    ("older patient: 7 groups in table order", ["I50.9", "N18.4"], ["K86", "T90", "R95", "K78", "P76"],
     ["hypertension", "depression", "diabetes", "copd", "ckd", "atrial_fibrillation", "heart_failure"]),
    ("the same group from both columns and several codes counts once", ["I10", "I11.9"], ["K86", "K87"],
     ["hypertension"]),
    ("type 1 and type 2 rubrics are one group", [], ["T89", "T90"], ["diabetes"]),
    ("table order, not input order", ["G35", "B18.2", "I10"], [], ["hypertension", "multiple_sclerosis",
                                                                   "viral_hepatitis"]),
    ("no codes", [], [], []),
    ("both columns absent", None, None, []),
    ("None and empty codes are ignored", [None, "", "  ", "."], [None, ""], []),
    # the column says the system
    ("ICD-10 codes in the ICPC-2 column are unknown chapters", [], ["I10", "E11", "J44.9"], []),
    ("ICPC-2 rubrics in the ICD-10 column are ICD-10 codes: K86 pancreas, R96 sudden death, T90 head injury sequelae",
     ["K86", "R96", "T90"], [], []),
    ("K57 is diverticular disease in ICD-10 and no rubric in ICPC-2", ["K57"], ["K57"], ["diverticular"]),
    # malformed
    ("malformed ICD-10", ["428.0", "X", "C1", "E11-", "I10 hypertensjon"], [], []),
    ("malformed ICPC-2", [], ["K7", "77", "K86X", "-30", "K86123"], []),
    # a 3-character ICD-10 code whose group is given at 4 characters
    ("F10, K59, R52, G31, F34, F50, K76, Z94, Z99 alone match nothing",
     ["F10", "K59", "R52", "G31", "F34", "F50", "K76", "Z94", "Z99"], [], []),
    # normalisation
    ("lower case, spaces, dots, line ends", ["i10", " E11.9 ", "J 44.9", "k57.3\n"], ["k86", " t90 ", "R 95"],
     ["hypertension", "diabetes", "copd", "diverticular"]),
    ("Norwegian extension K86.01 is its rubric K86", [], ["K86.01"], ["hypertension"]),
    # boundaries and coarse cases of the table
    ("C44.9 skin carcinoma is not cancer; C43.9 melanoma is", ["C44.9"], [], []),
    ("C43.9 melanoma", ["C43.9"], [], ["cancer"]),
    ("C86.0 (added to ICD-10 in 2010) is cancer here", ["C86.0"], [], ["cancer"]),
    ("C80.9 and C79.5 secondary/unknown primary are cancer", ["C80.9", "C79.5"], [], ["cancer"]),
    ("D05.1 carcinoma in situ is not cancer", ["D05.1"], [], []),
    ("S77 skin malignancy is not mapped", [], ["S77"], []),
    ("R75 sinusitis acute/chronic is not mapped; J01.9 acute sinusitis is nothing", ["J01.9"], ["R75"], []),
    ("R99 respiratory disease other is not bronchiectasis", [], ["R99"], []),
    ("P16 acute alcohol abuse and F10.0 intoxication are not alcohol problems", ["F10.0"], ["P16"], []),
    ("tobacco is not substance misuse", ["F17.2"], ["P17"], []),
    ("G31.2 alcoholic degeneration is alcohol, G31.1 senile degeneration is dementia", ["G31.2", "G31.1"], [],
     ["alcohol", "dementia"]),
    ("F34.0 cyclothymia is bipolar, F34.1 dysthymia is depression", ["F34.0", "F34.1"], [],
     ["depression", "schizophrenia_bipolar"]),
    ("F41.2 mixed anxiety and depression is anxiety", ["F41.2"], [], ["anxiety"]),
    ("I11.0 hypertensive heart disease with failure is hypertension only", ["I11.0"], [], ["hypertension"]),
    ("K85 elevated blood pressure and P03 feeling depressed are symptoms, not mapped", [], ["K85", "P03"], []),
    ("Z99.2 dialysis and Z94.0 kidney transplant are CKD", ["Z99.2", "Z94.0"], [], ["ckd"]),
    ("F50.4 overeating is neither anorexia nor bulimia", ["F50.4"], [], []),
    ("G21.1 drug-induced parkinsonism is not Parkinson's disease in ICD-10", ["G21.1"], [], []),
]


@pytest.mark.parametrize("name,icd10,icpc2,groups", MULTIMORBIDITY, ids=[m[0] for m in MULTIMORBIDITY])
def test_multimorbidity(name, icd10, icpc2, groups):
    assert ref.multimorbidity(icd10, icpc2) == {"groups": groups, "count": len(groups)}


def test_all_40_groups():
    out = ref.multimorbidity([icd10 for _, _, icd10 in ONE_PER_GROUP], [c for _, c, _ in ONE_PER_GROUP if c])
    assert out == {"groups": list(ref.GROUPS), "count": 40}


def test_a_column_must_be_a_list():
    with pytest.raises(TypeError):
        ref.multimorbidity("I10", None)
    with pytest.raises(TypeError):
        ref.efi(None, "K86", None, 0)
    with pytest.raises(TypeError):
        ref.polypharmacy("C07AB02")


# =================================================================================================================
# eFI: every deficit through every system it has

DEFICIT_EXAMPLES = {
    # deficit: (ICPC-2, ICD-10, ATC), None where the system has no code for it
    "activity_limitation": ("A28", "Z73.6", None),
    "anaemia": ("B80", "D50.9", "B03AA07"),
    "arthritis": ("L90", "M17.1", None),
    "atrial_fibrillation": ("K78", "I48.9", None),
    "cerebrovascular_disease": ("K90", "I63.9", None),
    "chronic_kidney_disease": (None, "N18.3", None),
    "diabetes": ("T90", "E11.9", None),
    "dizziness": ("N17", "R42", None),
    "dyspnoea": ("R02", "R06.0", None),
    "falls": ("A29", "W19", None),
    "foot_problems": ("S20", "M20.1", None),
    "fragility_fracture": ("L75", "S72.0", None),
    "hearing_impairment": ("H86", "H91.1", None),
    "heart_failure": ("K77", "I50.0", None),
    "heart_valve_disease": ("K83", "I35.0", None),
    "hypertension": ("K86", "I10", None),
    "hypotension_syncope": ("A06", "R55", None),
    "ischaemic_heart_disease": ("K76", "I25.1", None),
    "memory_cognitive": ("P70", "F03", "N06DA02"),
    "mobility_transfer": ("L28", "Z74.0", None),
    "osteoporosis": ("L95", "M81.0", "M05BA04"),
    "parkinsonism_tremor": ("N87", "G20", "N04BA02"),
    "peptic_ulcer": ("D85", "K25.9", None),
    "peripheral_vascular_disease": ("K92", "I70.2", None),
    "requirement_for_care": (None, "Z74.1", None),
    "respiratory_disease": ("R95", "J44.9", "R03AC02"),
    "skin_ulcer": ("S97", "L97", None),
    "sleep_disturbance": ("P06", "G47.0", "N05CF01"),
    "social_vulnerability": ("Z15", "Z60.2", None),
    "thyroid_disease": ("T86", "E03.9", "H03AA01"),
    "urinary_incontinence": ("U04", "R32", "G04BD08"),
    "urinary_system_disease": ("U99", "N20.0", None),
    "visual_impairment": ("F92", "H25.9", None),
    "weight_loss_anorexia": ("T08", "R63.4", None),
}

# The 34 deficits a code can give, in Clegg's order: all but housebound (no code) and polypharmacy (the rule).
CODED = [
    "activity_limitation", "anaemia", "arthritis", "atrial_fibrillation", "cerebrovascular_disease",
    "chronic_kidney_disease", "diabetes", "dizziness", "dyspnoea", "falls", "foot_problems", "fragility_fracture",
    "hearing_impairment", "heart_failure", "heart_valve_disease", "hypertension", "hypotension_syncope",
    "ischaemic_heart_disease", "memory_cognitive", "mobility_transfer", "osteoporosis", "parkinsonism_tremor",
    "peptic_ulcer", "peripheral_vascular_disease", "requirement_for_care", "respiratory_disease", "skin_ulcer",
    "sleep_disturbance", "social_vulnerability", "thyroid_disease", "urinary_incontinence", "urinary_system_disease",
    "visual_impairment", "weight_loss_anorexia",
]

SINGLE_CODES = [(d, system, code) for d in CODED
                for system, code in zip(("icpc2", "icd10", "atc"), DEFICIT_EXAMPLES[d], strict=True) if code]


def test_examples_cover_every_deficit_a_code_can_give():
    assert list(DEFICIT_EXAMPLES) == CODED
    assert [d for d in ref.DEFICITS if d not in CODED] == ["housebound", "polypharmacy"]
    assert len(CODED) == 34
    # every system each deficit has in the table is exercised
    for d in CODED:
        icpc2, icd10, atc = DEFICIT_EXAMPLES[d]
        assert bool(icpc2) == bool(EFI_ICPC2[d]) and bool(icd10) == bool(EFI_ICD10[d]) and bool(atc) == (d in EFI_ATC)


@pytest.mark.parametrize("deficit,system,code", SINGLE_CODES, ids=[f"{d}-{s}-{c}" for d, s, c in SINGLE_CODES])
def test_one_deficit(deficit, system, code):
    columns = {"icd10": None, "icpc2": None, "atc": None, system: [code]}
    assert ref.efi(columns["icd10"], columns["icpc2"], columns["atc"], 0) == {
        "deficits": [deficit], "efi": 1 / 36, "efi_band": "fit"}


EFI = [
    # (id, ICD-10, ICPC-2, ATC, polypharmacy count, deficits in table order, number of deficits, band)
    ("nothing", None, None, None, None, [], 0, "fit"),
    ("polypharmacy count 4 is not the deficit", [], [], [], 4, [], 0, "fit"),
    ("polypharmacy count 5 is the deficit", [], [], [], 5, ["polypharmacy"], 1, "fit"),
    ("polypharmacy count 12", [], [], [], 12, ["polypharmacy"], 1, "fit"),
    ("polypharmacy count unknown", [], [], [], None, [], 0, "fit"),
    ("the same deficit from three systems counts once", ["E03.9"], ["T86"], ["H03AA01"], 0, ["thyroid_disease"], 1,
     "fit"),
    ("ATC level 3 N06D is memory; N06 (level 2) and malformed N06DA0, N06DA021 are nothing", [], [],
     ["N06D", "N06", "N06DA0", "N06DA021"], 0, ["memory_cognitive"], 1, "fit"),
    ("ATC lower case, spaces, dots", [], [], ["n06da02", " R03A C02 ", "H03.AA.01"], 0,
     ["memory_cognitive", "respiratory_disease", "thyroid_disease"], 3, "fit"),
    ("ATC R03 (level 2) is respiratory; R0 is malformed", [], [], ["R0"], 0, [], 0, "fit"),
    ("R03 alone", [], [], ["R03"], 0, ["respiratory_disease"], 1, "fit"),
    ("dopamine agonist ropinirole N04BC04 and metformin A10BA02 give no deficit", [], [], ["N04BC04", "A10BA02"], 0,
     [], 0, "fit"),
    ("CKD from ICD-10 and U99 from ICPC-2 are two deficits", ["N18.3"], ["U99"], [], 0,
     ["chronic_kidney_disease", "urinary_system_disease"], 2, "fit"),
    ("the -28 rubrics: A28 activity, F28 visual, H28 hearing, L28 mobility", [], ["A28", "F28", "H28", "L28"], [], 0,
     ["activity_limitation", "hearing_impairment", "mobility_transfer", "visual_impairment"], 4, "fit"),
    ("Z74 alone is nothing; Z74.0 mobility, Z74.1 care", ["Z74"], [], [], 0, [], 0, "fit"),
    ("Z74.0 and Z74.1", ["Z74.0", "Z74.1"], [], [], 0, ["mobility_transfer", "requirement_for_care"], 2, "fit"),
    ("M80.0 osteoporosis with fracture is osteoporosis only", ["M80.0"], [], [], 0, ["osteoporosis"], 1, "fit"),
    ("I11.0 is hypertension, not heart failure", ["I11.0"], [], [], 0, ["hypertension"], 1, "fit"),
    ("G47.3 sleep apnoea is not sleep disturbance in ICD-10", ["G47.3"], [], [], 0, [], 0, "fit"),
    ("N04 restless legs and G25.8 are not parkinsonism", ["G25.8"], ["N04"], [], 0, [], 0, "fit"),
    ("UTI (U71, N39.0) is not urinary system disease", ["N39.0"], ["U71"], [], 0, [], 0, "fit"),
    ("malformed and unknown codes give nothing", ["428.0", "C1"], ["I50", "K7"], ["X0", "C07AB0"], 0, [], 0, "fit"),
    # band boundaries by number of deficits
    ("4 deficits: 4/36 = 0.111, fit", ["Z73.6", "D50.9", "M17.1", "I48.9"], [], [], 0,
     ["activity_limitation", "anaemia", "arthritis", "atrial_fibrillation"], 4, "fit"),
    ("4 coded and polypharmacy: 5/36 = 0.139, mild", ["Z73.6", "D50.9", "M17.1", "I48.9"], [], [], 5,
     ["activity_limitation", "anaemia", "arthritis", "atrial_fibrillation", "polypharmacy"], 5, "mild"),
    ("8 deficits over three systems: 8/36 = 0.222, mild", ["Z73.6", "D50.9"], ["L90", "K78", "K90"],
     ["N06DA02", "H03AA01"], 5,
     ["activity_limitation", "anaemia", "arthritis", "atrial_fibrillation", "cerebrovascular_disease",
      "memory_cognitive", "polypharmacy", "thyroid_disease"], 8, "mild"),
    ("9 deficits: 9/36 = 0.25, moderate", ["Z73.6", "D50.9", "M17.1", "I48.9", "I63.9", "N18.3", "E11.9", "R42"], [],
     [], 5,
     ["activity_limitation", "anaemia", "arthritis", "atrial_fibrillation", "cerebrovascular_disease",
      "chronic_kidney_disease", "diabetes", "dizziness", "polypharmacy"], 9, "moderate"),
    ("12 deficits: 12/36 = 0.333, moderate", [], ["A28", "B80", "L90", "K78", "K90", "T90", "N17", "R02", "A29", "S20",
                                                   "L75", "H86"], [], 0,
     ["activity_limitation", "anaemia", "arthritis", "atrial_fibrillation", "cerebrovascular_disease", "diabetes",
      "dizziness", "dyspnoea", "falls", "foot_problems", "fragility_fracture", "hearing_impairment"], 12, "moderate"),
    ("13 deficits: 13/36 = 0.361, severe", [], ["A28", "B80", "L90", "K78", "K90", "T90", "N17", "R02", "A29", "S20",
                                                 "L75", "H86", "K77"], [], 0,
     ["activity_limitation", "anaemia", "arthritis", "atrial_fibrillation", "cerebrovascular_disease", "diabetes",
      "dizziness", "dyspnoea", "falls", "foot_problems", "fragility_fracture", "hearing_impairment", "heart_failure"],
     13, "severe"),
]


@pytest.mark.parametrize("name,icd10,icpc2,atc,count,deficits,n,band", EFI, ids=[e[0] for e in EFI])
def test_efi(name, icd10, icpc2, atc, count, deficits, n, band):
    assert len(deficits) == n
    assert ref.efi(icd10, icpc2, atc, count) == {"deficits": deficits, "efi": n / 36, "efi_band": band}


def test_everything_a_patient_can_have_is_35_of_36():
    icpc2 = [DEFICIT_EXAMPLES[d][0] for d in CODED if DEFICIT_EXAMPLES[d][0]]
    icd10 = [DEFICIT_EXAMPLES[d][1] for d in CODED]
    atc = [DEFICIT_EXAMPLES[d][2] for d in CODED if DEFICIT_EXAMPLES[d][2]]
    out = ref.efi(icd10, icpc2, atc, 10)
    assert out["deficits"] == [d for d in ref.DEFICITS if d != "housebound"]
    assert out["efi"] == 35 / 36
    assert out["efi_band"] == "severe"


@pytest.mark.parametrize(
    "value,band",
    [
        (0.0, "fit"),
        (0.12, "fit"),
        (math.nextafter(0.12, 1), "mild"),
        (0.24, "mild"),
        (math.nextafter(0.24, 1), "moderate"),
        (0.36, "moderate"),
        (math.nextafter(0.36, 1), "severe"),
        (1.0, "severe"),
    ],
)
def test_efi_band_boundaries_belong_to_the_lower_band(value, band):
    assert ref.efi_band(value) == band


def test_efi_bands_in_numbers_of_deficits():
    expected = ["fit"] * 5 + ["mild"] * 4 + ["moderate"] * 4 + ["severe"] * 24  # 0-4, 5-8, 9-12, 13-36
    assert [ref.efi_band(k / 36) for k in range(37)] == expected


# =================================================================================================================
# polypharmacy

SUBSTANCES = ["C07AB02", "C10AA05", "B01AC06", "C09AA05", "A10BA02", "C03CA01", "A02BC01", "N06AB10", "H03AA01",
              "R03AC02", "N02BE01"]


def poly(count, band, review, malformed=0, underspecified=0) -> dict:
    return {"count": count, "band": band, "medication_review_due": review, "codes_malformed": malformed,
            "codes_underspecified": underspecified}


POLYPHARMACY = [
    ("column absent", None, poly(0, "none", False)),
    ("no codes", [], poly(0, "none", False)),
    ("3 substances", SUBSTANCES[:3], poly(3, "none", False)),
    ("4 substances: review due, no polypharmacy", SUBSTANCES[:4], poly(4, "none", True)),
    ("5 substances: polypharmacy", SUBSTANCES[:5], poly(5, "polypharmacy", True)),
    ("9 substances: polypharmacy", SUBSTANCES[:9], poly(9, "polypharmacy", True)),
    ("10 substances: excessive", SUBSTANCES[:10], poly(10, "excessive", True)),
    ("11 substances: excessive", SUBSTANCES, poly(11, "excessive", True)),
    ("one substance written five ways counts once", ["C07AB02", "c07ab02", " C07A B02 ", "C07.AB.02", "C07AB02"],
     poly(1, "none", False)),
    ("4 substances, one duplicated, are not 5", SUBSTANCES[:4] + ["c10aa05"], poly(4, "none", True)),
    ("levels 1-4 are under-specified, each occurrence", ["C", "C07", "C07A", "C07AB", "C07"],
     poly(0, "none", False, underspecified=5)),
    ("a single letter is a well-formed level 1 (any letter, as the kernel reads it)", ["X"],
     poly(0, "none", False, underspecified=1)),
    ("garbage is malformed", ["C0", "C07AB0", "C07AB021", "07AB02", "CO7AB02", "C07\u00c5B02", "metoprolol",
                              "C07AB02 metoprolol"], poly(0, "none", False, malformed=8)),
    ("None, empty and only dots or spaces are ignored", [None, "", "   ", "..", "\t"], poly(0, "none", False)),
    ("mixed: 5 substances (one twice), 1 under-specified, 1 malformed",
     SUBSTANCES[:5] + ["a10ba02", "N06", "N06A B1"], poly(5, "polypharmacy", True, malformed=1, underspecified=1)),
]


@pytest.mark.parametrize("name,atc,expected", POLYPHARMACY, ids=[p[0] for p in POLYPHARMACY])
def test_polypharmacy(name, atc, expected):
    assert ref.polypharmacy(atc) == expected


def test_polypharmacy_count_feeds_the_efi_rule():
    assert ref.efi(None, None, SUBSTANCES[:4], ref.polypharmacy(SUBSTANCES[:4])["count"])["deficits"] == []
    five = ref.efi(None, None, SUBSTANCES[:5], ref.polypharmacy(SUBSTANCES[:5])["count"])
    # H03AA01 is not among the first five; none of the five is an eFI drug class
    assert five["deficits"] == ["polypharmacy"]
