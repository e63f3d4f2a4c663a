"""How the console writes times and numbers: Europe/Oslo wall time as dd.mm.yyyy HH:MM, and a decimal comma in
bokmål, whatever the server's own time zone or locale is."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["OSLO", "ago", "clock_time", "date_time", "number"]

OSLO = ZoneInfo("Europe/Oslo")


def _local(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1e6, tz=dt.UTC).astimezone(OSLO)


def date_time(us: int | None) -> str:
    return "" if us is None else _local(us).strftime("%d.%m.%Y %H:%M")


def clock_time(us: int | None) -> str:
    return "" if us is None else _local(us).strftime("%H:%M")


def iso(us: int | None) -> str:
    """For <time datetime=...>: machine-readable, with the offset."""
    return "" if us is None else _local(us).isoformat(timespec="minutes")


def number(value, lang: str, decimals: int | None = None) -> str:
    if value is None:
        return ""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 1
    text = f"{float(value):.{decimals}f}"
    return text.replace(".", ",") if lang == "nb" else text


def ago(us: int | None, now_us: int, t) -> str:
    """"12 min ago" in the page's language (`t` is its translator)."""
    if us is None:
        return ""
    minutes = max(0, (now_us - us) // 60_000_000)
    if minutes < 1:
        return t("ago.now")
    if minutes < 60:
        return t("ago.minutes", n=minutes)
    hours = minutes // 60
    if hours < 48:
        return t("ago.hours", n=hours)
    return t("ago.days", n=hours // 24)


def duration(seconds: float | None, t) -> str:
    if seconds is None:
        return ""
    minutes = int(round(seconds / 60))
    if abs(minutes) < 60:
        return t("duration.minutes", n=minutes)
    return t("duration.hours_minutes", h=minutes // 60, m=minutes % 60)
