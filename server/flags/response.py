"""The unit's response policy: whom to contact, within what time and how often to measure at each NEWS2 level. It
is the Råd (recommendation) of every NEWS2 flag's ISBAR message (server/flags/isbar.py, docs/response-policy.md).

There is no national rule for this in Norway: each unit's medically responsible doctor decides. The shipped default
(data/response_default.toml) is RCP 2017's clinical response mapped to home care, marked `reviewed = false`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from varde.scoring.schema import BANDS

__all__ = [
    "CONTACTS",
    "DOCTORS",
    "KEYS",
    "Response",
    "ResponsePolicies",
    "ResponsePolicy",
    "ResponsePolicyError",
    "load_response_policy",
]

# code -> (bokmål, English), as they read inside a sentence ("Kontakt legevakten", "Contact the GP").
CONTACTS: dict[str, tuple[str, str]] = {
    "NURSE_IN_CHARGE": ("ansvarshavende sykepleier", "the nurse in charge"),
    "GP": ("fastlegen", "the GP (fastlege)"),
    "NURSING_HOME_DOCTOR": ("sykehjemslegen", "the nursing home doctor"),
    "LEGEVAKT": ("legevakten", "the emergency primary care service (legevakt)"),
    "EMERGENCY_113": ("113 (AMK)", "113 (the emergency medical communication centre)"),
}
# Doctors listed next to each other are alternatives, the first that can be reached: in Norwegian primary care the
# legevakt stands in for the GP (or the nursing home doctor) out of hours.
DOCTORS = frozenset({"GP", "NURSING_HOME_DOCTOR", "LEGEVAKT"})
# RED: a score of 3 in one parameter (RCP 2017 chart 4), which may be more urgent than the band's response.
KEYS = (*BANDS, "RED")
MAX_ADVICE = 500

_UNITS = {"s": 1, "m": 60, "h": 3600}
_ENTRY_KEYS = ("contact", "within", "measure_every", "advice_nb", "advice_en")
_TOP_KEYS = ("version", "reviewed", "response")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # newline and tab are fine in a unit's advice


class ResponsePolicyError(ValueError):
    """The response policy file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Response:
    key: str  # a band name (BANDS) or "RED"
    contacts: tuple[str, ...]  # codes from CONTACTS, in order
    within_us: int | None  # time to contact them; 0 = immediately; None when nobody is to be contacted
    measure_every_us: int | None
    advice_nb: str = ""
    advice_en: str = ""

    @property
    def steps(self) -> tuple[tuple[str, ...], ...]:
        """Whom to contact as steps, each done in turn; a step of several codes is adjacent doctors, alternatives
        in order of preference."""
        steps: list[tuple[str, ...]] = []
        for code in self.contacts:
            if steps and code in DOCTORS and steps[-1][-1] in DOCTORS:
                steps[-1] = (*steps[-1], code)
            else:
                steps.append((code,))
        return tuple(steps)


@dataclass(frozen=True)
class ResponsePolicy:
    version: str
    reviewed: bool  # True once the unit's medically responsible doctor has reviewed the file
    source: str  # the file's path, or "default" for the shipped default
    responses: dict[str, Response]  # every key of KEYS

    def _response(self, band: str) -> Response:
        try:
            return self.responses[band]
        except KeyError:
            raise ValueError(f"band {band!r}: the response policy has {', '.join(self.responses)}") from None

    def response_for(self, band: str, red: bool) -> Response:
        """The band's response, or RED's when the set has a red score and RED is more urgent: a shorter time to
        contact, or a contact where the band has none. A tie keeps the band's."""
        own = self._response(band)
        if not red:
            return own
        r = self.responses["RED"]
        if not r.contacts:
            return own
        if not own.contacts or own.within_us is None:
            return r
        return r if r.within_us is not None and r.within_us < own.within_us else own

    def measure_every_us(self, band: str, red: bool) -> int | None:
        """How often to measure: the band's interval, or the shorter of the band's and RED's with a red score."""
        every = [self._response(band).measure_every_us]
        if red:
            every.append(self.responses["RED"].measure_every_us)
        known = [e for e in every if e is not None]
        return min(known) if known else None


def load_response_policy(path: str | Path | None = None) -> ResponsePolicy:
    """The policy in `path`, or the shipped default for None. Raises ResponsePolicyError naming file and key."""
    if path is None:
        text = resources.files("varde.server.flags").joinpath("data/response_default.toml").read_text("utf-8")
        where, source = "the default response policy", "default"
    else:
        source = str(path)
        where = f"response policy {source!r}"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ResponsePolicyError(f"{where}: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise ResponsePolicyError(f"{where} is not UTF-8 text") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ResponsePolicyError(f"{where} is not valid TOML: {e}") from None

    def fail(msg: str):
        raise ResponsePolicyError(f"{where}: {msg}")

    _unknown(doc, _TOP_KEYS, "", fail)
    version = doc.get("version")
    if not isinstance(version, str) or not version.strip():
        fail('version = "..." is required (it is written into every message)')
    reviewed = doc.get("reviewed")
    if not isinstance(reviewed, bool):
        fail("reviewed = true or false is required: true once the unit's medically responsible doctor has reviewed "
             "this file")
    table = doc.get("response")
    if not isinstance(table, dict):
        fail(f"[response.<level>] tables are required for {', '.join(KEYS)}")
    _unknown(table, KEYS, "[response] ", fail)
    missing = [k for k in KEYS if k not in table]
    if missing:
        fail(f"[response.{missing[0]}] is missing (every one of {', '.join(KEYS)} is required)")
    responses = {key: _entry(key, table[key], fail) for key in KEYS}
    return ResponsePolicy(version.strip(), reviewed, source, responses)


def _unknown(table: dict, allowed: tuple[str, ...], prefix: str, fail) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        fail(f"{prefix}unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: "
             f"the keys are {', '.join(allowed)}")


def _entry(key: str, entry, fail) -> Response:
    name = f"[response.{key}]"
    if not isinstance(entry, dict):
        fail(f"{name} must be a table (contact = [...], within = \"...\", measure_every = \"...\")")
    _unknown(entry, _ENTRY_KEYS, f"{name} ", fail)
    contact = entry.get("contact")
    allowed = ", ".join(CONTACTS)
    if not isinstance(contact, list):
        fail(f"{name} contact = [...] is required (may be empty); allowed: {allowed}")
    for code in contact:
        if not isinstance(code, str) or code not in CONTACTS:
            fail(f"{name} contact: {code!r} is not allowed; allowed: {allowed}")
    seen = [c for i, c in enumerate(contact) if c in contact[:i]]
    if seen:
        fail(f"{name} contact: {seen[0]!r} is listed twice")
    within = _duration(name, "within", entry.get("within"), 0, fail)
    if contact and within is None:
        fail(f"{name} within = \"...\" is required with a contact: e.g. \"0m\" (immediately), \"15m\", \"2h\"")
    if not contact and within is not None:
        fail(f"{name} within: there is nobody to contact (contact = []); remove within or add a contact")
    measure = _duration(name, "measure_every", entry.get("measure_every"), 1, fail)
    advice = {}
    for lang in ("nb", "en"):
        text = entry.get(f"advice_{lang}", "")
        if not isinstance(text, str):
            fail(f"{name} advice_{lang} must be a string")
        text = text.strip()
        if len(text) > MAX_ADVICE:
            fail(f"{name} advice_{lang} has {len(text)} characters; at most {MAX_ADVICE}")
        if _CONTROL.search(text):
            fail(f"{name} advice_{lang} holds a control character")
        advice[lang] = text
    return Response(key, tuple(contact), within, measure, advice["nb"], advice["en"])


def _duration(name: str, field: str, value, minimum: int, fail) -> int | None:
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([smh])\s*", value) if isinstance(value, str) else None
    if not m or int(m[1]) < minimum:
        zero = '"0m" (immediately), ' if minimum == 0 else ""
        more = "" if minimum == 0 else " (more than 0)"
        fail(f"{name} {field} = {value!r}: write e.g. {zero}\"90s\", \"15m\", \"2h\"{more}")
    return int(m[1]) * _UNITS[m[2]] * 1_000_000


class ResponsePolicies:
    """Every unit's policy, read once at start: `<directory>/<unit>.toml` per unit (unit = the file's stem, e.g. a
    9-digit organisation number), `<directory>/default.toml` for units without one, else the shipped default. A
    bad file fails the construction, so that the server does not start with it."""

    def __init__(self, directory: str | Path | None = None):
        self._units: dict[str, ResponsePolicy] = {}
        default = None
        if directory is not None:
            folder = Path(directory)
            if not folder.is_dir():
                raise ResponsePolicyError(f"response policies {str(folder)!r}: not a directory")
            for path in sorted(folder.iterdir()):
                if path.suffix != ".toml" or path.name.startswith(".") or not path.is_file():
                    continue
                policy = load_response_policy(path)
                if path.stem == "default":
                    default = policy
                else:
                    self._units[path.stem] = policy
        self._default = default or load_response_policy()

    @property
    def default(self) -> ResponsePolicy:
        return self._default

    def for_unit(self, unit: str | None) -> ResponsePolicy:
        return self._units.get(unit or "", self._default)

    def versions(self) -> dict[str, str]:
        """unit -> version, "" for the default: for the server's start log."""
        return {"": self._default.version, **{u: p.version for u, p in self._units.items()}}
