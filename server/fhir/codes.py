"""The codes Varde reads and writes in FHIR R4, as data (docs/fhir.md). Each table names its source.

Sources, as read in March 2026:
- VKP: HL7 Norway's VkpObservation implementation guide (github.com/HL7Norway/VkpObservation, version 0.5.2, draft),
  its profiles, code systems and examples (input/fsh/), for the welfare-technology hub (Velferdsteknologisk
  knutepunkt).
- FHIR-VS: the FHIR R4 vital-signs profiles (hl7.org/fhir/R4/observation-vitalsigns.html): LOINC codes and UCUM units.
- NHS-VW: NHS England's Virtual Wards FHIR guidance (github.com/nhsengland/virtual-wards-draft-standards,
  FHIR-Resources-Population-Guidance/FHIR-Observation.md): the SNOMED CT codes of the NEWS2 sub-scores and of the
  raw readings behind them, and the UCUM units it takes (also {breaths}/min, {beats}/min, [degF]).
- UK-ACVPU: HL7 UK CareConnect-ACVPU-1 value set (fhir.hl7.org.uk/STU3/ValueSet/CareConnect-ACVPU-1): the five
  SNOMED CT findings of ACVPU, and NHS Digital's CareConnect observation guidance for "air or oxygen".
Where a code is taken from one example only, or its meaning could not be read, the table says so.
"""

from __future__ import annotations

__all__ = [
    "ACVPU_VALUES", "AIR_OR_OXYGEN_VALUES", "BP_PANEL_CODES", "DATA_ABSENT_REASON", "DETECTED_ISSUE_SEVERITY",
    "DNR", "FHN", "FLAG_CATEGORY", "FLAG_KIND_LABELS", "FLAG_KIND_SYSTEM", "FNR", "INSPIRED_OXYGEN_CODES", "LOINC",
    "NEWS2_BAND_LABELS", "NEWS2_BAND_SYSTEM", "NEWS2_SUBSCORES", "NEWS2_TOTAL", "NOT_TAKEN_CODES",
    "OBSERVATION_CATEGORY", "ORGNR", "OUTCOME_LABELS", "OUTCOME_SYSTEM", "PATIENT_SYSTEMS", "PROGRESS_NOTE",
    "RISK_TIER_LABELS", "RISK_TIER_SYSTEM", "SNOMED", "SYSTOLIC_CODES", "UCUM", "UNITS", "VITAL_SIGN_CODES",
    "VKP_ALERT_CODES", "VKP_ALERT_SYSTEM",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"

# ---- inbound: what a measurement is ----

# (system, code) -> the observation field (server/flags/assembly.py FIELDS) the value goes to.
VITAL_SIGN_CODES: dict[tuple[str, str], str] = {
    # respiration rate: LOINC from FHIR-VS; SNOMED CT from VKP (VkpObservationResprate) and NHS-VW
    (LOINC, "9279-1"): "resp_rate",
    (SNOMED, "86290005"): "resp_rate",
    # SpO2: LOINC 2708-6 and 59408-5 (pulse oximetry) from FHIR-VS; 431314004 |Peripheral oxygen saturation| from
    # VKP (VkpObservationOxygensat); 103228002 |Haemoglobin saturation with oxygen| from NHS-VW
    (LOINC, "2708-6"): "spo2",
    (LOINC, "59408-5"): "spo2",
    (SNOMED, "431314004"): "spo2",
    (SNOMED, "103228002"): "spo2",
    # systolic blood pressure sent alone (also a component of a panel, SYSTOLIC_CODES): LOINC from FHIR-VS;
    # 271649006 from VKP (VkpObservationBloodpressure); 72313002 |Systolic arterial pressure| from NHS-VW
    (LOINC, "8480-6"): "systolic_bp",
    (SNOMED, "271649006"): "systolic_bp",
    (SNOMED, "72313002"): "systolic_bp",
    # pulse: heart rate LOINC 8867-4 from FHIR-VS, 364075005 |Heart rate| from VKP (VkpObservationHeartrate);
    # 78564009 |Pulse rate| from NHS-VW. NEWS2 scores the pulse; a device's heart rate is taken as the pulse.
    (LOINC, "8867-4"): "pulse",
    (SNOMED, "364075005"): "pulse",
    (SNOMED, "78564009"): "pulse",
    # temperature: LOINC from FHIR-VS; 276885007 |Core body temperature| from VKP (VkpObservationBodytemp) and
    # NHS-VW; 386725007 |Body temperature| is not in VKP or NHS-VW, but is the general SNOMED CT concept vendors
    # send (seen in several public FHIR examples, not in a Norwegian guide)
    (LOINC, "8310-5"): "temperature",
    (SNOMED, "276885007"): "temperature",
    (SNOMED, "386725007"): "temperature",
    # consciousness: 1104441000000107 |ACVPU scale score| from VKP (VkpObservationConsciousness) and NHS-VW
    (SNOMED, "1104441000000107"): "consciousness",
}

# Blood pressure panels, read through their systolic component: LOINC 85354-9 from FHIR-VS and VKP; SNOMED CT
# 75367002 |Blood pressure| from VKP (VkpObservationBloodpressure).
BP_PANEL_CODES: frozenset[tuple[str, str]] = frozenset({(LOINC, "85354-9"), (SNOMED, "75367002")})
# The systolic component of a panel (VKP's example codes it with both LOINC and SNOMED CT).
SYSTOLIC_CODES: frozenset[tuple[str, str]] = frozenset(k for k, v in VITAL_SIGN_CODES.items() if v == "systolic_bp")

# Inspired oxygen, alone or as a component of an SpO2 Observation: LOINC 3151-8 |Inhaled oxygen flow rate| (L/min)
# and 3150-0 |Inhaled oxygen concentration| (%), the components of the FHIR R4 oxygen-saturation example and of
# US Core's pulse-oximetry profile. -> how its quantity is read (inbound.py): flow > 0 L/min or concentration
# above room air (21 %) is oxygen. VKP has no code for air or oxygen (it is only a NEWS2 sub-score there).
INSPIRED_OXYGEN_CODES: dict[tuple[str, str], str] = {
    (LOINC, "3151-8"): "flow",
    (LOINC, "3150-0"): "concentration",
}
# A coded "air or oxygen" value (with code 3151-8, as the Open Nursing Core IG's inspired-oxygen example does):
# 722742002 |Breathing room air| and 371825009 |Patient on oxygen| from NHS Digital's CareConnect guidance.
# -> on_oxygen
AIR_OR_OXYGEN_VALUES: dict[tuple[str, str], bool] = {
    (SNOMED, "722742002"): False,
    (SNOMED, "371825009"): True,
}

# ACVPU findings -> the letter the scoring takes (docs/news2.md): UK-ACVPU. VKP's own example sends a code from
# DIPS' local system (http://dips.no/fhir/code#5 "Våken"), which is not published and is not read.
ACVPU_VALUES: dict[tuple[str, str], str] = {
    (SNOMED, "248234008"): "A",  # Mentally alert
    (SNOMED, "130987000"): "C",  # Acute confusion
    (SNOMED, "300202002"): "V",  # Responds to voice
    (SNOMED, "450847001"): "P",  # Responds to pain
    (SNOMED, "422768004"): "U",  # Unresponsive
}

# UCUM codes accepted per field (FHIR-VS; {breaths}/min, {beats}/min and [degF] from NHS-VW). A temperature in
# [degF] is converted to Celsius; every other unit is the one the scoring takes.
UNITS: dict[str, tuple[str, ...]] = {
    "resp_rate": ("/min", "{breaths}/min"),
    "spo2": ("%",),
    "systolic_bp": ("mm[Hg]",),
    "pulse": ("/min", "{beats}/min"),
    "temperature": ("Cel", "[degF]"),
    "flow": ("L/min",),
    "concentration": ("%",),
}

# Codes Varde recognises but does not take, with what to send instead.
NOT_TAKEN_CODES: dict[tuple[str, str], str] = {
    # FHIR-VS vital-signs panel: its members are separate Observations
    (LOINC, "85353-1"): "a vital-signs panel: send each measurement as its own Observation (a batch Bundle)",
}

# ---- NEWS2 ----

# NEWS2 total: 1104051000000101, VKP (VkpObservationNEWS2score and its example) and NHS-VW.
NEWS2_TOTAL: tuple[str, str, str] = (
    SNOMED, "1104051000000101", "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score")

# The seven sub-scores as components, chart order, keyed as Assessment.sub_scores (observations.proto). All but
# SpO2 scale 1 are in VKP's NEWS2 example (vkp-news2-create, which scores SpO2 on scale 2); scale 1
# (1104311000000102) is from NHS-VW. Displays as VKP writes them.
NEWS2_SUBSCORES: dict[str, tuple[str, str]] = {
    "resp_rate": ("1104301000000104", "NEWS2 (National Early Warning Score 2) - respiration rate score"),
    "spo2_scale_1": ("1104311000000102", "NEWS2 (National Early Warning Score 2) - oxygen saturation scale 1 score"),
    "spo2_scale_2": ("1104321000000108", "NEWS2 (National Early Warning Score 2) - oxygen saturation scale 2 score"),
    "air_oxygen": ("1104331000000105", "NEWS2 (National Early Warning Score 2) - air or oxygen score"),
    "systolic_bp": ("1104341000000101", "NEWS2 (National Early Warning Score 2) - systolic blood pressure score"),
    "pulse": ("1104351000000103", "NEWS2 (National Early Warning Score 2) - pulse score"),
    "consciousness": ("1104361000000100", "NEWS2 (National Early Warning Score 2) - consciousness score"),
    "temperature": ("1104371000000107", "NEWS2 (National Early Warning Score 2) - temperature score"),
}

# ---- identifiers ----

# Patient identifier systems: VKP's VkpSubjectIdentifiersCodeSystem (the only ones VKP allows in subject).
FNR = "urn:oid:2.16.578.1.12.4.1.4.1"  # fødselsnummer
DNR = "urn:oid:2.16.578.1.12.4.1.4.2"  # D-nummer
FHN = "urn:oid:2.16.578.1.12.4.1.4.3"  # felles hjelpenummer
PATIENT_SYSTEMS: dict[str, str] = {FNR: "fødselsnummer", DNR: "D-nummer", FHN: "felles hjelpenummer"}
# Organisation number (organisasjonsnummer): VKP's VkpPerformerOrganizationIdentifiersCodeSystem.
ORGNR = "urn:oid:2.16.578.1.12.4.1.4.101"

# ---- alerts (DetectedIssue) ----

# VKP alert codes: the code system's URL is that of the VKP DHO guide on Simplifier
# (simplifier.net/guide/VelferdsteknologiskknutepunktDHOR4/vkp-alert-code). Only its first chapter (1.x,
# medication dispensers) could be read; 5.2.1 and 5.3.2 are used as the brief that asked for this module gives them
# ("measurement alert", "missing measurement"), their displays and definitions unconfirmed, so no display is written.
VKP_ALERT_SYSTEM = "http://ehelse.no/fhir/CodeSystem/vkp-alert-code-v090"
VKP_ALERT_CODES: dict[str, str] = {
    "NEWS2_HIGH": "5.2.1", "NEWS2_MEDIUM": "5.2.1", "NEWS2_RED": "5.2.1", "NEWS2_RISING": "5.2.1",
    "RISK_RISING": "5.2.1", "RISK_UNMET_NEED": "5.2.1",
    "MEASUREMENT_OVERDUE": "5.3.2",
}
# FlagRow.severity -> DetectedIssue.severity (FHIR R4 detectedissue-severity).
DETECTED_ISSUE_SEVERITY: dict[int, str] = {3: "high", 2: "moderate", 1: "low"}

# ---- Varde's own codes ----
# No national or international code system has NEWS2 bands, flag kinds, outcomes or risk tiers. These URNs are
# Varde's until it publishes CodeSystem resources at a canonical URL; a receiver should read the text.
NEWS2_BAND_SYSTEM = "urn:varde:fhir:CodeSystem:news2-band"
FLAG_KIND_SYSTEM = "urn:varde:fhir:CodeSystem:flag-kind"
OUTCOME_SYSTEM = "urn:varde:fhir:CodeSystem:flag-outcome"
RISK_TIER_SYSTEM = "urn:varde:fhir:CodeSystem:risk-tier"

# band -> (display: the RCP 2017 clinical-risk words, bokmål text). ZERO is RCP's "low" at total 0.
NEWS2_BAND_LABELS: dict[str, tuple[str, str]] = {
    "ZERO": ("Low clinical risk (total 0)", "Lav klinisk risiko (sum 0)"),
    "LOW": ("Low clinical risk (total 1-4)", "Lav klinisk risiko (sum 1-4)"),
    "LOW_MEDIUM": ("Low-medium clinical risk (3 in one parameter)", "Lav-middels klinisk risiko (3 i én parameter)"),
    "MEDIUM": ("Medium clinical risk (total 5-6)", "Middels klinisk risiko (sum 5-6)"),
    "HIGH": ("High clinical risk (total 7 or more)", "Høy klinisk risiko (sum 7 eller mer)"),
}
FLAG_KIND_LABELS: dict[str, str] = {  # bokmål, as flags/isbar.py words them
    "NEWS2_HIGH": "NEWS2 høy (sum 7 eller mer)",
    "NEWS2_MEDIUM": "NEWS2 middels (sum 5-6)",
    "NEWS2_RED": "NEWS2 rød score (3 poeng i én parameter)",
    "NEWS2_RISING": "NEWS2 stigende",
    "MEASUREMENT_OVERDUE": "Måling forsinket",
    "RISK_RISING": "Risiko for komplekse behov stiger",
    "RISK_UNMET_NEED": "Høy risiko for komplekse behov uten oppfølging",
}
OUTCOME_LABELS: dict[str, str] = {  # server/store/base.py OUTCOMES, bokmål
    "VISITED": "Besøkt",
    "PHONED": "Ringt",
    "GP_CONTACTED": "Fastlege kontaktet",
    "EMERGENCY_SERVICES": "Akuttmedisinsk hjelp tilkalt",
    "NO_ACTION": "Ingen tiltak",
}
RISK_TIER_LABELS: dict[str, str] = {"LOW": "lav", "MODERATE": "moderat", "HIGH": "høy", "VERY_HIGH": "svært høy"}

# The type of the resolved-flag document (Composition.type): LOINC 11506-3 |Progress note|. Varde's choice: VKP
# defines no document type for it.
PROGRESS_NOTE: tuple[str, str, str] = (LOINC, "11506-3", "Progress note")
