"""Every string the console shows is in both message catalogues: no text in a template outside a t() call, the
same keys in bokmål and English, and a message for every kind, state, outcome, event and audit action the store
can hold."""

from __future__ import annotations

import json
import pathlib
import re
import string

import pytest

from varde.server.console import _i18n
from varde.server.console.app import KINDS
from varde.server.store.base import OUTCOMES, STATES

CONSOLE = pathlib.Path(__file__).resolve().parent.parent.parent / "server" / "console"
TEMPLATES = sorted((CONSOLE / "templates").glob("*.html"))
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TAG = re.compile(r"<[^>]*>", re.S)
_TEXT_ATTRIBUTES = re.compile(r'\b(aria-label|title|placeholder|alt|data-live|data-stale|data-high)="([^"]*)"')
_KEY = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")


def catalogue(lang: str) -> dict:
    return json.loads((CONSOLE / "messages" / f"{lang}.json").read_text(encoding="utf-8"))


def test_both_catalogues_have_the_same_keys_and_placeholders():
    nb, en = catalogue("nb"), catalogue("en")
    assert set(nb) == set(en), f"only in nb: {set(nb) - set(en)}; only in en: {set(en) - set(nb)}"
    fields = string.Formatter()
    for key in nb:
        names = [{f for _, f, _, _ in fields.parse(m[key]) if f} for m in (nb, en)]
        assert names[0] == names[1], f"{key}: placeholders differ between nb and en"
        assert nb[key].strip() and en[key].strip(), f"{key} is empty"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_text_outside_the_catalogues(template):
    source = template.read_text(encoding="utf-8")
    for name, value in _TEXT_ATTRIBUTES.findall(source):
        assert not re.search(r"[A-Za-zÆØÅæøå]", _JINJA.sub("", value)), f"{template.name}: {name}={value!r}"
    text = _TAG.sub(" ", _JINJA.sub(" ", source))
    words = re.findall(r"[A-Za-zÆØÅæøå]{2,}", text)
    assert not words, f"{template.name}: untranslated text {words[:10]}"


def test_every_key_a_template_or_module_names_exists():
    keys = set(catalogue("nb"))
    sources = [*TEMPLATES, *CONSOLE.glob("*.py")]
    for path in sources:
        for key in _KEY.findall(path.read_text(encoding="utf-8")):
            if key.endswith("."):
                continue
            assert key in keys, f"{path.name}: no message {key!r}"


def test_a_message_for_every_value_the_pages_translate():
    keys = set(catalogue("nb"))
    needed = [f"kind.{k}" for k in KINDS] + [f"state.{s}" for s in STATES] + [f"outcome.{o}" for o in OUTCOMES]
    needed += [f"event.{e}" for e in ("RAISED", "UPDATED", "CLAIMED", "RELEASED", "RESOLVED", "ESCALATED",
                                      "REMINDED", "NOTED")]
    needed += [f"severity.{s}" for s in ("HIGH", "MEDIUM", "LOW")] + [f"role.{r}" for r in ("viewer", "coordinator",
                                                                                          "admin")]
    assert not [k for k in needed if k not in keys]


def test_a_missing_message_is_an_error_not_a_fallback():
    t = _i18n.translator("en")
    with pytest.raises(_i18n.MissingMessage):
        t("no.such.key")
    assert _i18n.translator("xx").lang == "nb"
