"""Server-rendered, accessible SVG trend charts for the console's patient page (NEWS2 total and each vital sign).

The page is served with `style-src 'self'; script-src 'self'`, so a chart has no `style` attribute and no <style>
or <script> element: its look comes from CSS classes in the console's stylesheet. A few presentation attributes
remain where SVG's defaults would hide or smear the data if the stylesheet failed to load (a polyline's default is a
black fill and no stroke; a band rect's default is a black fill over everything); the stylesheet overrides them.

Classes used (the stylesheet styles them):

    chart-svg                   the <svg> element (not "chart": the page's <section class="chart"> has that)
    band, band-<slug>           a horizontal background band; <slug> is made from the band's label ("High" -> high)
    band-label, band-label-<slug>   the band's label, drawn at the right edge of the plot inside the band
    chart-grid, chart-grid-x    a vertical grid line at an x tick (a time given by the caller)
    chart-grid, chart-grid-y    a horizontal grid line at a y tick
    chart-frame                 the rectangle around the plot area
    chart-tick, chart-tick-x    an x tick label (below the plot)
    chart-tick, chart-tick-y    a y tick label (left of the plot)
    chart-y-label               the y axis label (the unit), above the y tick labels
    chart-line                  a polyline through one run of readings without a gap
    chart-marker                a circle at every reading (a lone reading is still visible)
    chart-empty                 the centred text of a chart with no readings in its period

The chart is one picture to assistive technology (role="img", named by its <title>, described by its <desc>); the
page's table holds the same readings, so nothing is conveyed only by the chart, nor only by a band's colour.
"""

from __future__ import annotations

import math
import operator
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape

__all__ = ["default_format", "line_chart"]

_SVG_NS = "http://www.w3.org/2000/svg"

# Layout in viewBox units (the chart scales with width="100%"; these are pixels at its natural size).
_FONT_PX = 12
_CHAR_PX = 7  # a generous average advance of a 12 px sans-serif character, to size margins and place labels
_MARGIN_TOP = 22  # room for the y axis label
_MARGIN_RIGHT = 12
_MARGIN_BOTTOM = 24  # room for the x tick labels
_MIN_MARGIN_LEFT = 48  # the same for every usual vital sign, so that stacked charts line up
_MIN_PLOT_PX = 20
_MARKER_R = 3
_MIN_TICKS = 3
_MAX_TICKS = 6

_BIG = sys.float_info.max
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Characters XML 1.0 forbids (a title can hold user text): replaced, so that the chart stays well-formed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_TRANSLITERATE = str.maketrans({"æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ß": "ss", "þ": "th"})


def default_format(value: float) -> str:
    """A whole number without decimals, any other with one decimal and a dot; huge magnitudes in short e-notation."""
    if value == 0:
        return "0"
    if abs(value) >= 1e15:
        return f"{value:.6g}"
    if float(value).is_integer():
        return str(int(value))
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def line_chart(
    points: Sequence[tuple[int, float | None]],
    *,
    start_us: int,
    end_us: int,
    title: str,
    desc: str,
    y_label: str,
    bands: Sequence[tuple[float, float, str]] = (),
    y_range: tuple[float, float] | None = None,
    x_ticks: Sequence[tuple[int, str]] = (),
    y_format: Callable[[float], str] = default_format,
    width: int = 640,
    height: int = 200,
    chart_id: str,
    empty_text: str = "",
) -> str:
    """One trend chart as a complete <svg> element (a string of well-formed XML, ready to put in an HTML page).

    points: (microseconds since the epoch UTC, value); None as the value is a gap, which breaks the line. Any order:
    they are sorted by time (stably: readings at the same time keep their order). Points outside [start_us, end_us]
    are left out. A NaN or infinite value is a ValueError (Varde never stores one: it is a bug upstream, and a chart
    must not quietly show it as a gap).

    The y axis shows y_range, widened to take in every reading (a reading is never clipped); without y_range, the
    readings' range with 10 % padding (not below 0 when no reading is negative). A flat series or a single reading
    gets a range around its value. The axis has 3 to 6 ticks at multiples of 1, 2 or 5 x 10^k, inside that range;
    when no such step fits, the range is widened to the next multiples of the step. Labels come from y_format.

    bands: (low, high, label) drawn behind the line, clipped to the axis (a bound may be +-inf, e.g. (7, inf, "High")).
    x_ticks: (microseconds, label) from the caller; those within [start_us, end_us] get a grid line and a label.
    With no readings in the period: the frame, the x ticks and `empty_text` centred (no bands, no y axis).

    chart_id makes the ids of <title> and <desc> ("{chart_id}-title", "{chart_id}-desc"); it must be unique on the
    page and look like an identifier (a letter, then letters, digits, '-' or '_'). Same input, same string.
    """
    if not isinstance(chart_id, str) or not _ID.fullmatch(chart_id):
        raise ValueError(f"chart_id must be a letter followed by letters, digits, '-' or '_', not {chart_id!r}")
    start_us, end_us = operator.index(start_us), operator.index(end_us)
    if start_us >= end_us:
        raise ValueError(f"start_us ({start_us}) must be before end_us ({end_us})")
    width, height = operator.index(width), operator.index(height)
    readings = _readings(points)
    if y_range is not None:
        y_range = _range(y_range)
    checked_bands = [_band(band) for band in bands]

    inside = [(t, v) for t, v in readings if start_us <= t <= end_us]
    runs = _runs(inside)
    values = [v for run in runs for _, v in run]

    if values:
        lo, hi = _domain(values, y_range)
        lo, hi, ticks = _nice_ticks(lo, hi)
        tick_labels = [str(y_format(tick)) for tick in ticks]
    else:
        lo, hi, ticks, tick_labels = 0.0, 1.0, [], []

    longest = max((len(label) for label in tick_labels), default=0)
    left = max(_MIN_MARGIN_LEFT, min(longest * _CHAR_PX + 10, width // 3))  # long labels widen it, up to a third
    right = width - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM
    if right - left < _MIN_PLOT_PX or bottom - top < _MIN_PLOT_PX:
        raise ValueError(f"a {width} x {height} chart leaves no room for its plot")
    plot_w, plot_h = right - left, bottom - top
    span_us = end_us - start_us

    def x_of(t: int) -> float:
        return left + (t - start_us) / span_us * plot_w

    def y_of(v: float) -> float:
        # Halves throughout: hi - lo may be past the largest float when the readings are extreme.
        return bottom - (v / 2 - lo / 2) / (hi / 2 - lo / 2) * plot_h

    out: list[str] = [
        f'<svg xmlns="{_SVG_NS}" class="chart-svg" width="100%" viewBox="0 0 {width} {height}" role="img"'
        f' aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc"'
        f' font-family="sans-serif" font-size="{_FONT_PX}">',
        f'<title id="{chart_id}-title">{_text(title)}</title>',
        f'<desc id="{chart_id}-desc">{_text(desc)}</desc>',
    ]

    band_labels: list[str] = []
    if values:
        for band_lo, band_hi, label in checked_bands:
            shown_lo, shown_hi = max(band_lo, lo), min(band_hi, hi)
            if shown_lo >= shown_hi:
                continue
            y_top, y_bottom = round(y_of(shown_hi), 1), round(y_of(shown_lo), 1)
            if y_bottom <= y_top:
                continue
            slug = _slug(label)
            kind = f" band-{slug}" if slug else ""
            out.append(
                f'<rect class="band{kind}" x="{_num(left)}" y="{_num(y_top)}" width="{_num(plot_w)}"'
                f' height="{_num(y_bottom - y_top)}" fill="none"/>'
            )
            if label.strip() and y_bottom - y_top >= _FONT_PX:
                label_kind = f" band-label-{slug}" if slug else ""
                band_labels.append(
                    f'<text class="band-label{label_kind}" x="{_num(right - 4)}" y="{_num((y_top + y_bottom) / 2)}"'
                    f' dy="0.35em" text-anchor="end">{_text(label)}</text>'
                )

    tick_texts: list[str] = []
    for t, label in sorted(((operator.index(t), label) for t, label in x_ticks), key=lambda tick: tick[0]):
        if not start_us <= t <= end_us:
            continue
        x = round(x_of(t), 1)
        out.append(
            f'<line class="chart-grid chart-grid-x" x1="{_num(x)}" y1="{_num(top)}" x2="{_num(x)}"'
            f' y2="{_num(bottom)}"/>'
        )
        half = len(label) * _CHAR_PX / 2
        anchor = "start" if x - half < 0 else "end" if x + half > width else "middle"
        tick_texts.append(
            f'<text class="chart-tick chart-tick-x" x="{_num(x)}" y="{_num(bottom + 16)}"'
            f' text-anchor="{anchor}">{_text(label)}</text>'
        )
    for tick, label in zip(ticks, tick_labels, strict=True):
        y = round(y_of(tick), 1)
        out.append(
            f'<line class="chart-grid chart-grid-y" x1="{_num(left)}" y1="{_num(y)}" x2="{_num(right)}"'
            f' y2="{_num(y)}"/>'
        )
        tick_texts.append(
            f'<text class="chart-tick chart-tick-y" x="{_num(left - 6)}" y="{_num(y)}" dy="0.35em"'
            f' text-anchor="end">{_text(label)}</text>'
        )
    out.extend(band_labels)
    out.append(
        f'<rect class="chart-frame" x="{_num(left)}" y="{_num(top)}" width="{_num(plot_w)}" height="{_num(plot_h)}"'
        ' fill="none" stroke="currentColor"/>'
    )
    out.extend(tick_texts)
    if y_label:
        out.append(f'<text class="chart-y-label" x="4" y="14">{_text(y_label)}</text>')

    if values:
        coordinates = [[(_num(x_of(t)), _num(y_of(v))) for t, v in run] for run in runs]
        for run in coordinates:
            joined = " ".join(f"{x},{y}" for x, y in run)
            out.append(f'<polyline class="chart-line" points="{joined}" fill="none" stroke="currentColor"/>')
        for run in coordinates:
            for x, y in run:
                out.append(f'<circle class="chart-marker" cx="{x}" cy="{y}" r="{_MARKER_R}"/>')
    elif empty_text:
        out.append(
            f'<text class="chart-empty" x="{_num((left + right) / 2)}" y="{_num((top + bottom) / 2)}" dy="0.35em"'
            f' text-anchor="middle">{_text(empty_text)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _readings(points: Sequence[tuple[int, float | None]]) -> list[tuple[int, float | None]]:
    """The points checked and sorted by time (stable); values as floats."""
    readings: list[tuple[int, float | None]] = []
    for t, value in points:
        t = operator.index(t)
        if value is not None:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"a chart value must be a number or None (a gap), not {value!r} (at {t} us)")
        readings.append((t, value))
    readings.sort(key=lambda point: point[0])
    return readings


def _range(y_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(bound) for bound in y_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"y_range must be two finite numbers, the first the smaller, not {y_range!r}")
    return lo, hi


def _band(band: tuple[float, float, str]) -> tuple[float, float, str]:
    band_lo, band_hi, label = band
    band_lo, band_hi = float(band_lo), float(band_hi)
    if math.isnan(band_lo) or math.isnan(band_hi) or not band_lo < band_hi:
        raise ValueError(f"a band must be (low, high, label) with low < high, not {band!r}")
    if not isinstance(label, str):
        raise TypeError(f"a band's label must be a string, not {label!r}")
    return band_lo, band_hi, label


def _runs(points: list[tuple[int, float | None]]) -> list[list[tuple[int, float]]]:
    """The contiguous runs of values between gaps."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for t, value in points:
        if value is None:
            if current:
                runs.append(current)
                current = []
        else:
            current.append((t, value))
    if current:
        runs.append(current)
    return runs


def _domain(values: list[float], y_range: tuple[float, float] | None) -> tuple[float, float]:
    """The range of the y axis before its ticks: never narrower than the readings, never of zero width."""
    vmin, vmax = min(values), max(values)
    if y_range is not None:
        lo, hi = min(y_range[0], vmin), max(y_range[1], vmax)
    else:
        pad = vmax * 0.1 - vmin * 0.1  # a tenth of the span, without overflowing
        lo, hi = max(vmin - pad, -_BIG), min(vmax + pad, _BIG)
    if hi - lo < 1e-9 * max(1.0, abs(lo), abs(hi)):  # flat (or too narrow to place ticks in): around the middle
        middle = lo / 2 + hi / 2
        half = max(abs(middle) * 0.1, 1.0)
        lo, hi = max(middle - half, -_BIG), min(middle + half, _BIG)
    if y_range is None and vmin >= 0:
        lo = max(lo, 0.0)
    return lo, hi


def _nice_ticks(lo: float, hi: float) -> tuple[float, float, list[float]]:
    """(lo, hi, ticks): 3 to 6 ticks at multiples of the smallest 1, 2 or 5 x 10^k step giving at most 6 in the
    range; when that step gives fewer than 3, the range widens to the step's multiples around it."""
    exponent = math.floor(math.log10(hi / 10 - lo / 10)) - 1  # a step of at most a hundredth of the range
    while True:
        for mantissa in (1, 2, 5):
            step = float(f"{mantissa}e{exponent}")
            first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
            if last - first + 1 <= _MAX_TICKS:
                if last - first + 1 < _MIN_TICKS:
                    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
                ticks = [float(f"{k * mantissa}e{exponent}") for k in range(first, last + 1)]
                ticks = [tick for tick in ticks if math.isfinite(tick)]
                return min([lo, *ticks]), max([hi, *ticks]), ticks
        exponent += 1


def _num(value: float) -> str:
    """A coordinate rounded to 1 decimal place, without a trailing '.0' or a '-0'."""
    text = f"{round(value, 1):.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _text(text: str) -> str:
    """Text for element content: XML-escaped, with characters XML cannot hold replaced by U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", str(text)))


def _slug(label: str) -> str:
    """A class-name part from a band's label: lower-case ASCII letters, digits and '-' ("Høy risiko" -> hoy-risiko)."""
    text = unicodedata.normalize("NFKD", label.lower().translate(_TRANSLITERATE))
    text = text.encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", text).strip("-")[:40].strip("-")
