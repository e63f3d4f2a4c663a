"""FHIR R4 in and out (docs/fhir.md): measurements from home-monitoring vendors (VKP Observations) as readings,
and Varde's assessments, flags and risks as FHIR resources. Pure mappings: the HTTP endpoint is elsewhere."""

from .inbound import FhirInputError, FhirReading, Issue, bundle_entries, observation_reading, operation_outcome
from .outbound import (
    detected_issue,
    flag_resource,
    news2_observation,
    patient_identifier,
    resolved_document,
    risk_assessment,
)

__all__ = [
    "FhirInputError",
    "FhirReading",
    "Issue",
    "bundle_entries",
    "detected_issue",
    "flag_resource",
    "news2_observation",
    "observation_reading",
    "operation_outcome",
    "patient_identifier",
    "resolved_document",
    "risk_assessment",
]
