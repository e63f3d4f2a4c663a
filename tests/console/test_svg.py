"""The console's SVG trend charts: well-formed for any input, accessible, CSP-clean (no style, no script), and drawn
to scale (markers in the plot, later to the right, higher values higher up, 'nice' y ticks)."""

from __future__ import annotations

import math
import random
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from varde.server.console._svg import default_format, line_chart

NS = "{http://www.w3.org/2000/svg}"
HOUR = 3600 * 1_000_000
START = 1_750_000_000_000_000
END = START + 24 * HOUR
NEWS2_BANDS = [(0, 4.5, "Low"), (4.5, 6.5, "Medium"), (6.5, math.inf, "High")]

fast = settings(deadline=None, max_examples=200)


def chart(points, **overrides) -> str:
    kwargs = {"start_us": START, "end_us": END, "title": "NEWS2", "desc": "NEWS2 over 24 hours", "y_label": "points",
              "chart_id": "news2-24h"}
    kwargs.update(overrides)
    return line_chart(points, **kwargs)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything not well-formed
    assert root.tag == NS + "svg"
    return root


def by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in e.get("class", "").split()]


def frame(root: ET.Element) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the plot area."""
    (rect,) = by_class(root, "chart-frame")
    x, y, w, h = (float(rect.get(a)) for a in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def markers(root: ET.Element) -> list[tuple[float, float]]:
    return [(float(c.get("cx")), float(c.get("cy"))) for c in by_class(root, "chart-marker")]


def line_points(root: ET.Element) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, pair.split(","))) for pair in line.get("points").split()]
            for line in by_class(root, "chart-line")]


def y_ticks(root: ET.Element) -> list[tuple[str, float]]:
    """(label, y) of the y tick labels, in document order."""
    return [(t.text, float(t.get("y"))) for t in by_class(root, "chart-tick-y")]


def expected_runs(points, start=START, end=END) -> list[list[tuple[int, float]]]:
    """What the chart should draw: sorted by time (stably), in range, split at every None."""
    runs, current = [], []
    for t, v in sorted(points, key=lambda p: p[0]):
        if not start <= t <= end:
            continue
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((t, v))
    if current:
        runs.append(current)
    return runs


def assert_nice(ticks: list[Decimal]) -> Decimal:
    """3 to 6 ticks, ascending, evenly spaced by 1, 2 or 5 x 10^k, each a multiple of the step; returns the step."""
    assert 3 <= len(ticks) <= 6, ticks
    step = ticks[1] - ticks[0]
    assert step > 0
    assert step.normalize().as_tuple().digits in {(1,), (2,), (5,)}, step
    for a, b in zip(ticks, ticks[1:], strict=False):
        assert b - a == step, ticks
    for tick in ticks:
        assert tick % step == 0, (tick, step)
    return step


# --- strategies ---------------------------------------------------------------------------------------------------

times = st.one_of(st.integers(START - 2 * HOUR, END + 2 * HOUR), st.sampled_from([START, END, START - 1, END + 1]))
any_value = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))
vital_value = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def point_lists(draw, values=any_value):
    points = draw(st.lists(st.tuples(times, values), max_size=40))
    if points and draw(st.booleans()):  # duplicated timestamps
        t = draw(st.sampled_from(points))[0]
        points += [(t, v) for v in draw(st.lists(values, min_size=1, max_size=3))]
    return points


y_ranges = st.one_of(
    st.none(),
    st.tuples(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6)).map(lambda r: (r[0], r[0] + r[1])),
)
bands_strategy = st.lists(
    st.tuples(st.floats(-1e3, 1e3), st.floats(1e-3, 1e3), st.text(max_size=12))
    .map(lambda b: (b[0], b[0] + b[1], b[2])),
    max_size=4,
)


# --- well-formed for anything ---------------------------------------------------------------------------------------


@fast
@given(points=point_lists(), y_range=y_ranges, bands=bands_strategy, title=st.text(), label=st.text(max_size=20),
       x_ticks=st.lists(st.tuples(times, st.text(max_size=8)), max_size=6))
def test_any_input_is_well_formed_and_drawn_as_given(points, y_range, bands, title, label, x_ticks):
    svg = chart(points, y_range=y_range, bands=bands, title=title, desc=title, y_label=label, x_ticks=x_ticks,
                empty_text="No readings in this period")
    root = parse(svg)
    runs = expected_runs(points)

    lines = line_points(root)
    assert len(lines) == len(runs)
    assert [len(line) for line in lines] == [len(run) for run in runs]
    # a marker at every reading, on its line
    assert markers(root) == [xy for line in lines for xy in line]

    left, top, right, bottom = frame(root)
    flat = [(t, v) for run in runs for t, v in run]
    xs = [x for x, _ in markers(root)]
    for (t, _), x, y in zip(flat, xs, (y for _, y in markers(root)), strict=True):
        assert left <= x <= right and top <= y <= bottom
        assert x == pytest.approx(left + (t - START) / (END - START) * (right - left), abs=0.051)
    assert xs == sorted(xs)  # later readings never to the left

    if flat:
        assert not by_class(root, "chart-empty")
        assert_nice([Decimal(label) for label, _ in y_ticks(parse(chart(points, y_range=y_range, y_format=repr)))])
    else:
        assert [e.text for e in by_class(root, "chart-empty")] == ["No readings in this period"]
        assert not by_class(root, "band")

    assert svg == chart(points, y_range=y_range, bands=bands, title=title, desc=title, y_label=label,
                        x_ticks=x_ticks, empty_text="No readings in this period")  # deterministic


@fast
@given(points=point_lists(vital_value), y_range=y_ranges)
def test_values_are_drawn_to_the_y_scale_of_the_ticks(points, y_range):
    root = parse(chart(points, y_range=y_range, y_format=repr))
    flat = [v for run in expected_runs(points) for _, v in run]
    if not flat:
        return
    left, top, right, bottom = frame(root)
    ticks = [(float(label), y) for label, y in y_ticks(root)]
    assert_nice([Decimal(repr(v)) for v, _ in ticks])
    values = [v for v, _ in ticks]
    assert values == sorted(values)
    assert all(top <= y <= bottom for _, y in ticks)
    assert [y for _, y in ticks] == sorted((y for _, y in ticks), reverse=True)  # SVG y grows down

    # The scale from the first and last ticks (their y rounded to 0.1: allow a little more than that).
    (v0, y0), (v1, y1) = ticks[0], ticks[-1]
    per_unit = (y1 - y0) / (v1 - v0)
    tolerance = 0.06 + 0.1 * (bottom - top) / abs(y1 - y0)
    if y_range is not None:
        # the frame spans y_range, widened to the readings, and to the ticks when they had to widen it
        lo, hi = min(y_range[0], *flat, v0), max(y_range[1], *flat, v1)
        assert v0 + (bottom - y0) / per_unit == pytest.approx(lo, abs=(hi - lo) * 0.005)
        assert v0 + (top - y0) / per_unit == pytest.approx(hi, abs=(hi - lo) * 0.005)
        if y_range[0] <= min(flat) and max(flat) <= y_range[1] and len(ticks) > 2:
            assert y_range[0] <= ticks[1][0] and ticks[-2][0] <= y_range[1]
    for value, (_, y) in zip(flat, markers(root), strict=True):
        assert top <= y <= bottom
        assert y == pytest.approx(y0 + (value - v0) * per_unit, abs=tolerance)
    # higher values higher up
    placed = list(zip(flat, (y for _, y in markers(root)), strict=True))
    for (a, ya), (b, yb) in zip(placed, placed[1:], strict=False):
        if b > a:
            assert yb <= ya
        if (b - a) * -per_unit > 2 * tolerance + 0.1:
            assert yb < ya


@fast
@given(lo=st.floats(allow_nan=False, allow_infinity=False), hi=st.floats(allow_nan=False, allow_infinity=False))
def test_y_ticks_are_nice_for_any_two_readings(lo, hi):
    root = parse(chart([(START, lo), (END, hi)], y_format=repr))
    ticks = [(float(label), y) for label, y in y_ticks(root)]
    assert_nice([Decimal(repr(v)) for v, _ in ticks])
    _, top, _, bottom = frame(root)
    (_, y_lo), (_, y_hi) = markers(root)
    assert all(top <= y <= bottom for _, y in ticks)
    assert (y_hi < y_lo) if hi > lo and abs(hi - lo) > 1e-6 * max(abs(lo), abs(hi), 1) else True
    if hi == lo:
        # flat: a real range around the value, not at an edge (but 0 on the floor: no axis below 0 for readings >= 0)
        assert y_hi == y_lo
        if 0 <= lo < 1e-3:  # the axis starts at 0: (nearly) on the floor
            assert y_lo == pytest.approx(bottom, abs=0.1)
        elif abs(lo) < 1e300:  # (no room above the largest floats)
            assert top < y_lo < bottom


# --- NaN, bad arguments ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("when", [START + HOUR, END + HOUR])  # in range or not: a NaN is a bug upstream either way
def test_nan_and_infinity_are_rejected(bad, when):
    with pytest.raises(ValueError, match="number or None"):
        chart([(START, 1.0), (when, bad)])


@pytest.mark.parametrize(
    "overrides",
    [
        {"start_us": END, "end_us": START},
        {"end_us": START},
        {"y_range": (5.0, 5.0)},
        {"y_range": (0.0, math.nan)},
        {"y_range": (0.0, math.inf)},
        {"bands": [(4, 2, "upside down")]},
        {"bands": [(math.nan, 2, "nan")]},
        {"chart_id": "has space"},
        {"chart_id": '"><script>'},
        {"chart_id": "1starts-with-digit"},
        {"chart_id": ""},
        {"width": 60},
        {"height": 40},
    ],
)
def test_bad_arguments_are_rejected(overrides):
    with pytest.raises(ValueError):
        chart([(START, 1.0)], **overrides)


def test_float_timestamps_are_rejected():
    with pytest.raises(TypeError):
        chart([(float(START), 1.0)])


# --- CSP, escaping, accessibility -------------------------------------------------------------------------------------

HOSTILE = "<style>*{x:y}</style><script>alert(1)</script> & \"quoted\" 'single' ]]> \x00\x1b\ufffe end"


def test_no_style_and_no_script_anywhere_even_with_hostile_text():
    svg = chart([(START, 3.0), (START + HOUR, None), (START + 2 * HOUR, 8.0)], title=HOSTILE, desc=HOSTILE,
                y_label=HOSTILE, bands=[(0, 5, HOSTILE), (5, 20, "High")], x_ticks=[(START + HOUR, HOSTILE)],
                y_format=lambda v: HOSTILE)
    root = parse(svg)
    for element in root.iter():
        assert element.tag.removeprefix(NS) not in {"style", "script", "foreignObject", "a", "image", "use"}
        assert "style" not in element.attrib
        assert not any(name.lower().startswith("on") for name in element.attrib)
    assert "<script" not in svg and "<style" not in svg and " style=" not in svg
    empty = chart([], title=HOSTILE, empty_text=HOSTILE)
    assert "<script" not in empty and "<style" not in empty
    parse(empty)


def test_text_is_escaped_and_survives_a_round_trip():
    text = "Ola <Nordmann> & \"co\" 'x' æøå"
    svg = chart([(START, 37.5)], title=text, desc=text + " desc", y_label=text, bands=[(30, 40, text)],
                x_ticks=[(START, text)], y_format=lambda v: text)
    assert "&lt;Nordmann&gt; &amp;" in svg
    root = parse(svg)
    assert root.find(NS + "title").text == text
    assert root.find(NS + "desc").text == text + " desc"
    assert by_class(root, "chart-y-label")[0].text == text
    assert by_class(root, "band-label")[0].text == text
    assert by_class(root, "chart-tick-x")[0].text == text
    assert {e.text for e in by_class(root, "chart-tick-y")} == {text}
    assert parse(chart([], empty_text=text)).find(f".//{NS}text[@class='chart-empty']").text == text


def test_characters_xml_cannot_hold_are_replaced():
    root = parse(chart([], title="a\x00b\x1fc\ud800d", empty_text="\x0b"))
    assert root.find(NS + "title").text == "a\ufffdb\ufffdc\ufffdd"


@pytest.mark.parametrize("points", [[], [(START, 2.0)], [(START, 2.0), (END, 9.0)]])
def test_aria_title_and_desc(points):
    root = parse(chart(points, title="NEWS2, last 24 h", desc="From 2 to 9", chart_id="news2-24h"))
    assert root.get("role") == "img" and root.get("class") == "chart-svg"
    title, desc = root[0], root[1]  # first children: read before anything else
    assert title.tag == NS + "title" and title.get("id") == "news2-24h-title" and title.text == "NEWS2, last 24 h"
    assert desc.tag == NS + "desc" and desc.get("id") == "news2-24h-desc" and desc.text == "From 2 to 9"
    assert root.get("aria-labelledby") == "news2-24h-title"
    assert root.get("aria-describedby") == "news2-24h-desc"
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert ids == ["news2-24h-title", "news2-24h-desc"]


def test_scalable_by_viewbox():
    root = parse(chart([(START, 1.0)], width=500, height=150))
    assert root.get("width") == "100%"
    assert root.get("viewBox") == "0 0 500 150"
    assert root.get("height") is None and root.get("preserveAspectRatio") is None


def test_coordinates_are_rounded_to_one_decimal():
    points = [(START + i * 7_777_777_777, 36.0 + i / 7) for i in range(11)]
    root = parse(chart(points, x_ticks=[(START + 12_345_678_901, "x")], bands=[(36.3333, 37.1111, "band")]))
    number = re.compile(r"-?\d+(\.\d)?")
    checked = 0
    for element in list(root.iter())[1:]:  # (the <svg> itself has width="100%")
        for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height"):
            if name in element.attrib:
                assert number.fullmatch(element.get(name)), (name, element.get(name))
                checked += 1
        if "points" in element.attrib:
            for pair in element.get("points").split():
                assert all(number.fullmatch(n) for n in pair.split(","))
                checked += 1
    assert checked > 40


# --- lines, gaps, markers ---------------------------------------------------------------------------------------------


def test_a_gap_breaks_the_line_and_unsorted_input_is_sorted():
    points = [(START + 5 * HOUR, 7.0), (START + HOUR, 2.0), (START + 3 * HOUR, None), (START + 2 * HOUR, 3.0),
              (START + 4 * HOUR, 6.0), (START - HOUR, 9.0), (END + 1, 9.0)]
    root = parse(chart(points, y_range=(0, 20)))
    lines = line_points(root)
    assert len(lines) == 2 and [len(line) for line in lines] == [2, 2]
    xs = [x for x, _ in markers(root)]
    assert len(xs) == 4 and xs == sorted(xs) and len(set(xs)) == 4
    left, top, right, bottom = frame(root)
    ys = [y for _, y in markers(root)]
    # 2 < 3 < 6 < 7: each higher up than the one before; 0..20 spans the frame exactly
    assert ys == sorted(ys, reverse=True) and len(set(ys)) == 4
    assert ys[0] == pytest.approx(bottom - 2 / 20 * (bottom - top), abs=0.05)
    assert xs[0] == pytest.approx(left + 1 / 24 * (right - left), abs=0.05)
    # input order does not matter
    shuffled = points[:]
    random.Random(4).shuffle(shuffled)
    assert chart(shuffled, y_range=(0, 20)) == chart(points, y_range=(0, 20))


def test_points_on_the_period_edges_are_kept_and_sit_on_the_frame():
    root = parse(chart([(START, 1.0), (END, 2.0)]))
    left, _, right, _ = frame(root)
    assert [x for x, _ in markers(root)] == [left, right]


def test_a_single_reading_is_a_marker_with_a_real_axis():
    root = parse(chart([(START + HOUR, 37.2)], y_format=repr))
    assert len(markers(root)) == 1 and len(line_points(root)) == 1
    ticks = [float(label) for label, _ in y_ticks(root)]
    assert_nice([Decimal(repr(t)) for t in ticks])
    assert ticks[0] < 37.2 < ticks[-1]


def test_a_flat_series_is_drawn_mid_plot():
    root = parse(chart([(START + i * HOUR, 96.0) for i in range(5)]))
    _, top, _, bottom = frame(root)
    ys = {y for _, y in markers(root)}
    assert len(ys) == 1 and top + 10 < ys.pop() < bottom - 10


@pytest.mark.parametrize("points", [[], [(START, None)], [(START - 1, 5.0), (END + 1, 5.0)], [(START, None)] * 3])
def test_no_readings_in_the_period(points):
    root = parse(chart(points, bands=NEWS2_BANDS, y_range=(0, 20), empty_text="No readings in this period"))
    assert not by_class(root, "chart-line") and not by_class(root, "chart-marker")
    (text,) = by_class(root, "chart-empty")
    assert text.text == "No readings in this period" and text.get("text-anchor") == "middle"
    left, top, right, bottom = frame(root)
    assert float(text.get("x")) == pytest.approx((left + right) / 2, abs=0.05)
    assert float(text.get("y")) == pytest.approx((top + bottom) / 2, abs=0.05)
    assert root.find(NS + "title").text == "NEWS2"
    assert not by_class(parse(chart(points)), "chart-empty")  # no text asked for: none drawn


# --- bands ----------------------------------------------------------------------------------------------------------


def test_bands_are_behind_the_line_with_slugged_classes_and_labels():
    root = parse(chart([(START, 3.0), (START + HOUR, 8.0)], y_range=(0, 20), bands=NEWS2_BANDS))
    order = list(root.iter())
    rects = by_class(root, "band")
    assert [r.get("class") for r in rects] == ["band band-low", "band band-medium", "band band-high"]
    assert [t.text for t in by_class(root, "band-label")] == ["Low", "Medium", "High"]
    first_line = min(order.index(e) for e in by_class(root, "chart-line") + by_class(root, "chart-marker"))
    assert all(order.index(e) < first_line for e in rects + by_class(root, "band-label"))
    assert all(order.index(r) < order.index(by_class(root, "chart-frame")[0]) for r in rects)
    left, top, right, bottom = frame(root)
    # 0..20 over the frame: Low is 0..4.5, High is 6.5..20 (clipped from infinity to the axis)
    low, _, high = ((float(r.get("y")), float(r.get("height"))) for r in rects)
    scale = (bottom - top) / 20
    assert low[0] + low[1] == pytest.approx(bottom, abs=0.05)
    assert low[1] == pytest.approx(4.5 * scale, abs=0.11)
    assert high[0] == pytest.approx(top, abs=0.05)
    assert high[0] + high[1] == pytest.approx(bottom - 6.5 * scale, abs=0.05)
    assert all(float(r.get("x")) == left and float(r.get("width")) == right - left for r in rects)


def test_band_classes_from_norwegian_and_odd_labels():
    bands = [(0, 1, "Høy risiko"), (1, 2, "Lav/normal (ok)"), (2, 3, "!!!"), (3, 4, "Åpen Ærlig")]
    root = parse(chart([(START, 0.5), (END, 3.5)], bands=bands, y_range=(0, 4)))
    assert [r.get("class") for r in by_class(root, "band")] == [
        "band band-hoy-risiko", "band band-lav-normal-ok", "band", "band band-apen-aerlig"]


def test_bands_outside_the_axis_are_left_out():
    root = parse(chart([(START, 96.0), (END, 98.0)], y_range=(90, 100), bands=[(0, 50, "Far below"), (95, 200, "ok")]))
    assert [r.get("class") for r in by_class(root, "band")] == ["band band-ok"]


# --- axes -----------------------------------------------------------------------------------------------------------


def test_y_range_is_the_axis_and_readings_outside_it_widen_it():
    root = parse(chart([(START, 3.0)], y_range=(0, 20), y_format=repr))
    assert [float(label) for label, _ in y_ticks(root)] == [0, 5, 10, 15, 20]
    _, top, _, bottom = frame(root)
    assert [y for _, y in y_ticks(root)] == [bottom, bottom - (bottom - top) / 4, (top + bottom) / 2,
                                             top + (bottom - top) / 4, top]
    # SpO2 axis 85..100 with a reading of 75: the axis reaches down to it, the marker is inside the frame
    root = parse(chart([(START, 75.0), (END, 97.0)], y_range=(85, 100), y_format=repr))
    ticks = [float(label) for label, _ in y_ticks(root)]
    assert ticks[0] <= 75 and ticks[-1] >= 97
    _, top, _, bottom = frame(root)
    assert all(top <= y <= bottom for _, y in markers(root))


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [(0, 20, [0, 5, 10, 15, 20]), (85, 100, [85, 90, 95, 100]), (34, 40, [34, 36, 38, 40]), (0, 1, [0, 0.2, 0.4, 0.6,
     0.8, 1]), (0.5, 14.5, [0, 5, 10, 15]), (-3, 3, [-2, 0, 2])],
)
def test_nice_y_ticks(lo, hi, expected):
    root = parse(chart([(START, lo), (END, hi)], y_range=(lo, hi), y_format=repr))
    assert [float(label) for label, _ in y_ticks(root)] == expected


def test_y_format_is_used_for_tick_labels():
    comma = lambda v: f"{v:.1f}".replace(".", ",")  # noqa: E731
    root = parse(chart([(START, 36.4), (END, 38.9)], y_format=comma))
    labels = [label for label, _ in y_ticks(root)]
    assert labels and all(re.fullmatch(r"\d+,\d", label) for label in labels)


def test_x_ticks_within_the_period_get_grid_lines_and_labels():
    x_ticks = [(START + 12 * HOUR, "12:00"), (START - HOUR, "before"), (START, "00:00"), (END, "24:00"),
               (END + 1, "after")]
    root = parse(chart([(START + HOUR, 2.0)], x_ticks=x_ticks))
    left, top, right, bottom = frame(root)
    labels = by_class(root, "chart-tick-x")
    assert [t.text for t in labels] == ["00:00", "12:00", "24:00"]
    assert [float(t.get("x")) for t in labels] == [left, (left + right) / 2, right]
    assert all(float(t.get("y")) > bottom for t in labels)
    grid = by_class(root, "chart-grid-x")
    assert [float(g.get("x1")) for g in grid] == [left, (left + right) / 2, right]
    assert all(float(g.get("y1")) == top and float(g.get("y2")) == bottom for g in grid)
    svg_width = float(root.get("viewBox").split()[2])
    assert labels[-1].get("text-anchor") == "end" and right <= svg_width  # the last label is not cut off


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (0.0, "0"), (-0.0, "0"), (-2.0, "-2"), (37.5, "37.5"), (38.04, "38.0"), (-0.04, "0.0"),
     (96, "96"), (1e20, "1e+20")],
)
def test_default_format(value, text):
    assert default_format(value) == text


def test_deterministic():
    args = ([(START + i * HOUR, (i * 37) % 11 or None) for i in range(24)],)
    kwargs = {"bands": NEWS2_BANDS, "x_ticks": [(START + 6 * HOUR * i, f"{6 * i:02d}:00") for i in range(5)]}
    assert chart(*args, **kwargs) == chart(*args, **kwargs)
