"""Every string the console shows comes from a message catalogue (messages/<lang>.json); bokmål is the default.

A key missing from a catalogue is an error, not a fallback to the key or the other language: the test suite renders
every page in both languages, so an untranslated string fails a test instead of reaching a coordinator."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["LANGUAGES", "DEFAULT", "Translator", "catalogue", "translator"]

LANGUAGES = ("nb", "en")
DEFAULT = "nb"


class MissingMessage(KeyError):
    pass


@cache
def catalogue(lang: str) -> dict[str, str]:
    text = resources.files("varde.server.console").joinpath(f"messages/{lang}.json").read_text(encoding="utf-8")
    return json.loads(text)


class Translator:
    def __init__(self, lang: str):
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._messages = catalogue(self.lang)

    def __call__(self, key: str, **values) -> str:
        try:
            text = self._messages[key]
        except KeyError:
            raise MissingMessage(f"no {self.lang!r} message for {key!r} (server/console/messages/"
                                 f"{self.lang}.json)") from None
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self._messages


def translator(lang: str) -> Translator:
    return Translator(lang)
