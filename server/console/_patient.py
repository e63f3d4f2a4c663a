"""The patient page: the latest observation set as the home follow-up assembles it, trend plots of NEWS2 and each
parameter (server-rendered SVG with a table beside each), the patient's flags and GP-risk reasons."""

from __future__ import annotations

import datetime as dt

from varde._proto.varde.v1 import observations_pb2

from .. import clock
from ..flags import assembly
from ..services.observations import assessments, set_scorer
from ..store.base import Caller
from . import _format as fmt
from ._rows import view
from ._svg import line_chart

__all__ = ["RANGES", "patient_page"]

HOUR = 3600 * 1_000_000
RANGES = {"24h": 24 * HOUR, "7d": 7 * 24 * HOUR, "30d": 30 * 24 * HOUR}
_PLOTTED = ("resp_rate", "spo2", "systolic_bp", "pulse", "temperature")
_SUB = {"on_oxygen": "air_oxygen"}  # the reading's field -> its sub-score's name
_BANDS = {  # what the NEWS2 chart shades: the aggregate-score thresholds of the RCP chart
    "news2": ((0, 4.5, "low"), (4.5, 6.5, "medium"), (6.5, 20, "high")),
}
_Y = {"news2": (0, 20), "resp_rate": (0, 40), "spo2": (80, 100), "systolic_bp": (60, 240), "pulse": (30, 160),
      "temperature": (34, 41)}


def _ticks(start: int, end: int, span: str) -> list[tuple[int, str]]:
    step_h = {"24h": 6, "7d": 24, "30d": 24 * 5}[span]
    first = dt.datetime.fromtimestamp(start / 1e6, tz=fmt.OSLO).replace(minute=0, second=0, microsecond=0)
    if step_h >= 24:
        first = first.replace(hour=0)
    else:
        first = first.replace(hour=(first.hour // step_h) * step_h)
    out, t = [], first
    while True:
        us = int(t.timestamp() * 1_000_000)
        if us > end:
            return out
        if us >= start:
            out.append((us, t.strftime("%H:%M" if step_h < 24 else "%d.%m")))
        t = (t + dt.timedelta(hours=step_h)).astimezone(fmt.OSLO)


def patient_page(store, caller: Caller, patient_id: str, span: str, lang: str, t, window_us: int) -> dict:
    span = span if span in RANGES else "24h"
    now = clock.now_us()
    start = now - RANGES[span]
    settings, set_by, set_at = store.patient_settings(caller, patient_id)
    store.audit_read(caller, patient_id, "READ_PATIENT")
    with store.transaction(write=False) as cur:
        rows = store.readings_between(cur, caller.unit, [patient_id], start - window_us, now)[patient_id]
    readings = sorted((assembly.Reading(m, seq, device, assembly.decode(text)) for m, seq, device, text in rows),
                      key=lambda r: (r.measured_at, r.seq))
    score = set_scorer({patient_id: settings})

    latest = None
    if readings:
        s = assembly.assemble(readings, readings[-1].measured_at, window_us)
        _, (made, raw) = score([patient_id], [s])
        a = assessments(made, raw)[0]
        params = []
        for name in assembly.PARAMETER_FIELDS:
            sub_name = _SUB.get(name, name)
            sub = getattr(a.sub_scores, sub_name) if a.sub_scores.HasField(sub_name) else None
            when, device = s.parts.get(name, (None, ""))
            params.append(dict(name=name, value=s.values.get(name), sub=sub, at=when, device=device))
        scored = a.HasField("total")
        latest = dict(at=s.at, total=a.total if scored else None, complete=a.complete,
                      band=observations_pb2.Band.Name(a.band).removeprefix("BAND_") if scored else None,
                      params=params, missing=[p["name"] for p in params if p["value"] is None],
                      reject=a.reject_reason)

    # NEWS2 as it stood at each reading of the period: the set of the newest readings up to that moment
    times = sorted({r.measured_at for r in readings if r.measured_at >= start})
    news2 = []
    if times:
        sets = [assembly.assemble([r for r in readings if r.measured_at <= at], at, window_us) for at in times]
        _, (made, raw) = score([patient_id] * len(sets), sets)
        for at, s, a in zip(times, sets, assessments(made, raw), strict=True):
            news2.append((at, a.total if a.HasField("total") else None, s.complete))
    ticks = _ticks(start, now, span)
    charts = [_chart("news2", [(at, total) for at, total, _ in news2], start, now, ticks, t, lang,
                     [(at, total, complete) for at, total, complete in news2])]
    for name in _PLOTTED:
        points = [(r.measured_at, float(r.values[name])) for r in readings
                  if name in r.values and r.measured_at >= start and r.values[name] is not None]
        charts.append(_chart(name, points, start, now, ticks, t, lang, [(at, v, None) for at, v in points]))

    flags = store.patient_flags(caller, patient_id, limit=50)
    reasons = []
    for f in flags:
        if f.kind.startswith("RISK_"):
            reasons = view(f).risk_reasons
            break
    return dict(patient_id=patient_id, settings=settings, settings_by=set_by, settings_at=set_at, latest=latest,
                charts=charts, span=span, spans=tuple(RANGES), flags=[view(f) for f in flags], risk_reasons=reasons,
                parameters=assembly.PARAMETER_FIELDS)


def _chart(name: str, points, start: int, end: int, ticks, t, lang: str, table) -> dict:
    title = t(f"param.{name}")
    readings = sum(1 for _, v in points if v is not None)
    svg = line_chart(points, start_us=start, end_us=end, title=t("chart.title", name=title),
                     desc=t("chart.desc", name=title, n=readings), y_label=t(f"unit.{name}"),
                     bands=[(lo, hi, t(f"chart.band.{label}")) for lo, hi, label in _BANDS.get(name, ())],
                     y_range=_Y.get(name), x_ticks=ticks, y_format=lambda v: fmt.number(v, lang),
                     chart_id=f"chart-{name}", empty_text=t("chart.empty"))
    return dict(name=name, title=title, svg=svg, table=table)

