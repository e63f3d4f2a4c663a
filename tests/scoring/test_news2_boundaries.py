"""Hand-written NEWS2 cases at every band boundary, every reject code and every input layout.

Expected values are written from docs/news2.md (RCP NEWS2 2017, Chart 1 and Chart 4), not computed: each case is a
single observation set that differs from an all-normal one (total 0) in what the case is about. The same CASES are
checked against the slow reference in test_news2_reference.py, so the kernel, the reference and this table are
each held to the chart.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pytest

from tests.reference.news2 import PARAMETERS as ITEMS
from tests.reference.news2 import RESULT_COLUMNS

MONITORING = {"ZERO": "12-hourly", "LOW": "4-6-hourly", "LOW_MEDIUM": "1-hourly", "MEDIUM": "1-hourly",
              "HIGH": "continuous"}
NAN = float("nan")
INF = float("inf")

# An all-normal adult observation set: every item scores 0.
BASE = {
    "patient_id": "p1",
    "resp_rate": 16,
    "spo2": 98,
    "on_oxygen": False,
    "systolic_bp": 120,
    "pulse": 70,
    "consciousness": "A",
    "temperature": 37.0,
}
TYPES = {
    "patient_id": pa.string(),
    "resp_rate": pa.float64(),
    "spo2": pa.float64(),
    "on_oxygen": pa.bool_(),
    "systolic_bp": pa.float64(),
    "pulse": pa.float64(),
    "consciousness": pa.string(),
    "temperature": pa.float64(),
    "spo2_scale": pa.int8(),
    "age": pa.float64(),
    "pregnant": pa.bool_(),
}


def scored(total, band, red=False, missing=None, **items):
    """A valid, applicable result: items not named score 0; name an item =None for a missing one."""
    row = {f"news2_{name}": items.pop(name, 0) for name in ITEMS}
    assert not items, f"unknown items {items}"
    row.update(
        news2_total=total,
        news2_band=band,
        news2_red=red,
        news2_complete=missing is None,
        news2_missing=missing,
        news2_applicable=True,
        news2_not_applicable_reason=None,
        news2_monitoring=MONITORING[band],
        reject_reason=None,
    )
    return row


def rejected(code):
    row = dict.fromkeys(RESULT_COLUMNS)
    row["reject_reason"] = code
    return row


def not_applicable(reason):
    row = dict.fromkeys(RESULT_COLUMNS)
    row["news2_applicable"] = False
    row["news2_not_applicable_reason"] = reason
    return row


@dataclass(frozen=True)
class Case:
    id: str
    overrides: dict
    expected: dict
    types: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {**BASE, **self.overrides}

    def table(self) -> pa.Table:
        row = self.row()
        types = {**TYPES, **self.types}
        return pa.table({name: pa.array([value], type=types[name]) for name, value in row.items()})


CASES: list[Case] = []


def case(id, expected, types=None, **overrides):
    CASES.append(Case(id, overrides, expected, types or {}))


# ---- respiration rate: <=8 3 | 9-11 1 | 12-20 0 | 21-24 2 | >=25 3; valid 1-80 -------------------------------
for value, points in [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (1, 3), (80, 3)]:
    band = {0: "ZERO", 1: "LOW", 2: "LOW", 3: "LOW_MEDIUM"}[points]
    case(f"resp {value}", scored(points, band, red=points == 3, resp_rate=points), resp_rate=value)
case("resp 8.5 rounds up to 9", scored(1, "LOW", resp_rate=1), resp_rate=8.5)
case("resp 8.49 rounds to 8", scored(3, "LOW_MEDIUM", True, resp_rate=3), resp_rate=8.49)
case("resp 11.5 rounds to 12", scored(0, "ZERO"), resp_rate=11.5)
case("resp 20.5 rounds to 21", scored(2, "LOW", resp_rate=2), resp_rate=20.5)
case("resp 24.49 rounds to 24", scored(2, "LOW", resp_rate=2), resp_rate=24.49)
case("resp 24.5 rounds to 25", scored(3, "LOW_MEDIUM", True, resp_rate=3), resp_rate=24.5)
case("resp 0 out of range", rejected("RESP_RATE_OUT_OF_RANGE"), resp_rate=0)
case("resp 0.49 rounds to 0", rejected("RESP_RATE_OUT_OF_RANGE"), resp_rate=0.49)
case("resp 0.5 rounds to 1", scored(3, "LOW_MEDIUM", True, resp_rate=3), resp_rate=0.5)
case("resp 80.49 rounds to 80", scored(3, "LOW_MEDIUM", True, resp_rate=3), resp_rate=80.49)
case("resp 80.5 rounds to 81", rejected("RESP_RATE_OUT_OF_RANGE"), resp_rate=80.5)
case("resp 81", rejected("RESP_RATE_OUT_OF_RANGE"), resp_rate=81)
case("resp -5", rejected("RESP_RATE_OUT_OF_RANGE"), resp_rate=-5)
case("resp NaN", rejected("RESP_RATE_NOT_A_NUMBER"), resp_rate=NAN)
case("resp inf", rejected("RESP_RATE_NOT_A_NUMBER"), resp_rate=INF)
case("resp -inf", rejected("RESP_RATE_NOT_A_NUMBER"), resp_rate=-INF)

# ---- SpO2 scale 1: <=91 3 | 92-93 2 | 94-95 1 | >=96 0; valid 0-100 ------------------------------------------
for scale in (None, 1, "absent"):
    for value, points in [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0), (0, 3)]:
        band = {0: "ZERO", 1: "LOW", 2: "LOW", 3: "LOW_MEDIUM"}[points]
        extra = {} if scale == "absent" else {"spo2_scale": scale}
        case(f"spo2 scale1({scale}) {value}", scored(points, band, red=points == 3, spo2=points), spo2=value,
             **extra)
case("spo2 scale1 95.49 rounds to 95", scored(1, "LOW", spo2=1), spo2=95.49)
case("spo2 scale1 95.5 rounds to 96", scored(0, "ZERO"), spo2=95.5)
case("spo2 scale1 91.5 rounds to 92", scored(2, "LOW", spo2=2), spo2=91.5)
case("spo2 100.49 rounds to 100", scored(0, "ZERO"), spo2=100.49)
case("spo2 100.5 rounds to 101", rejected("SPO2_OUT_OF_RANGE"), spo2=100.5)
case("spo2 101", rejected("SPO2_OUT_OF_RANGE"), spo2=101)
case("spo2 -1", rejected("SPO2_OUT_OF_RANGE"), spo2=-1)
case("spo2 -0.4 rounds to 0", scored(3, "LOW_MEDIUM", True, spo2=3), spo2=-0.4)
case("spo2 -0.5 rounds away from zero to -1", rejected("SPO2_OUT_OF_RANGE"), spo2=-0.5)
case("spo2 NaN", rejected("SPO2_NOT_A_NUMBER"), spo2=NAN)
case("spo2 -inf", rejected("SPO2_NOT_A_NUMBER"), spo2=-INF)
# Oxygen adds 2 on scale 1 too; the oxygen item is never red.
case("scale1 on oxygen 98", scored(2, "LOW", air_oxygen=2), spo2=98, on_oxygen=True)
case("scale1 on oxygen 91", scored(5, "MEDIUM", True, spo2=3, air_oxygen=2), spo2=91, on_oxygen=True)
case("scale1 on oxygen 94", scored(3, "LOW", spo2=1, air_oxygen=2), spo2=94, on_oxygen=True)

# ---- SpO2 scale 2: <=83 3 | 84-85 2 | 86-87 1 | 88-92 0, or >=93 on air 0 | 93-94 O2 1 | 95-96 O2 2 | >=97 O2 3 --
for value, points in [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0)]:
    band = {0: "ZERO", 1: "LOW", 2: "LOW", 3: "LOW_MEDIUM"}[points]
    case(f"spo2 scale2 air {value}", scored(points, band, red=points == 3, spo2=points), spo2=value, spo2_scale=2)
    o2_band = {0: "LOW", 1: "LOW", 2: "LOW", 3: "MEDIUM"}[points]
    case(f"spo2 scale2 O2 {value}", scored(points + 2, o2_band, red=points == 3, spo2=points, air_oxygen=2),
         spo2=value, spo2_scale=2, on_oxygen=True)
# Scale 2 on AIR: 93-100 all score 0 (several public implementations wrongly score 1-3 here).
for value in range(93, 101):
    case(f"spo2 scale2 air {value}", scored(0, "ZERO"), spo2=value, spo2_scale=2)
for value, points in [(93, 1), (94, 1), (95, 2), (96, 2), (97, 3), (100, 3)]:
    band = {1: "LOW", 2: "LOW", 3: "MEDIUM"}[points]
    case(f"spo2 scale2 O2 {value}", scored(points + 2, band, red=points == 3, spo2=points, air_oxygen=2),
         spo2=value, spo2_scale=2, on_oxygen=True)
case("spo2 scale2 O2 92.5 rounds to 93", scored(3, "LOW", spo2=1, air_oxygen=2), spo2=92.5, spo2_scale=2,
     on_oxygen=True)
case("spo2 scale2 O2 96.5 rounds to 97", scored(5, "MEDIUM", True, spo2=3, air_oxygen=2), spo2=96.5,
     spo2_scale=2, on_oxygen=True)
case("spo2 scale2 float 2.0", scored(0, "ZERO"), {"spo2_scale": pa.float64()}, spo2=97, spo2_scale=2.0)
case("spo2 scale2 float 2.0 O2", scored(5, "MEDIUM", True, spo2=3, air_oxygen=2), {"spo2_scale": pa.float32()},
     spo2=97, spo2_scale=2.0, on_oxygen=True)
# on_oxygen not recorded: >=93 on scale 2 is scored as on air (the lower bound) and air_oxygen is missing.
for value in (93, 97, 100):
    case(f"spo2 scale2 O2 null {value}", scored(0, "ZERO", missing="air_oxygen", air_oxygen=None), spo2=value,
         spo2_scale=2, on_oxygen=None)
case("spo2 scale2 O2 null 85", scored(2, "LOW", missing="air_oxygen", spo2=2, air_oxygen=None), spo2=85,
     spo2_scale=2, on_oxygen=None)
case("spo2 scale1 O2 null 93", scored(2, "LOW", missing="air_oxygen", spo2=2, air_oxygen=None), spo2=93,
     on_oxygen=None)
# spo2_scale: null or absent = 1; anything but exactly 1 or 2 rejects.
case("spo2 scale null is scale 1", scored(2, "LOW", spo2=2), spo2=93, spo2_scale=None)
case("spo2 scale 3", rejected("SPO2_SCALE_INVALID"), spo2_scale=3)
case("spo2 scale 0", rejected("SPO2_SCALE_INVALID"), spo2_scale=0)
case("spo2 scale -1", rejected("SPO2_SCALE_INVALID"), spo2_scale=-1)
case("spo2 scale 1.5", rejected("SPO2_SCALE_INVALID"), {"spo2_scale": pa.float64()}, spo2_scale=1.5)
case("spo2 scale 2.01", rejected("SPO2_SCALE_INVALID"), {"spo2_scale": pa.float64()}, spo2_scale=2.01)
case("spo2 scale NaN", rejected("SPO2_SCALE_INVALID"), {"spo2_scale": pa.float64()}, spo2_scale=NAN)
case("spo2 scale invalid with spo2 null", rejected("SPO2_SCALE_INVALID"), spo2=None, spo2_scale=3)

# ---- air or oxygen: oxygen 2 | air 0; bool or integer 0/1 -----------------------------------------------------
case("on_oxygen int 1", scored(2, "LOW", air_oxygen=2), {"on_oxygen": pa.int8()}, on_oxygen=1)
case("on_oxygen int 0", scored(0, "ZERO"), {"on_oxygen": pa.int8()}, on_oxygen=0)
case("on_oxygen int 2", rejected("ON_OXYGEN_INVALID"), {"on_oxygen": pa.int8()}, on_oxygen=2)
case("on_oxygen int -1", rejected("ON_OXYGEN_INVALID"), {"on_oxygen": pa.int64()}, on_oxygen=-1)
case("on_oxygen uint8 255", rejected("ON_OXYGEN_INVALID"), {"on_oxygen": pa.uint8()}, on_oxygen=255)
case("on_oxygen int null", scored(0, "ZERO", missing="air_oxygen", air_oxygen=None), {"on_oxygen": pa.int8()},
     on_oxygen=None)

# ---- systolic BP: <=90 3 | 91-100 2 | 101-110 1 | 111-219 0 | >=220 3; valid 1-300 -------------------------------
for value, points in [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (1, 3),
                      (300, 3)]:
    band = {0: "ZERO", 1: "LOW", 2: "LOW", 3: "LOW_MEDIUM"}[points]
    case(f"sbp {value}", scored(points, band, red=points == 3, systolic_bp=points), systolic_bp=value)
case("sbp 90.5 rounds to 91", scored(2, "LOW", systolic_bp=2), systolic_bp=90.5)
case("sbp 219.5 rounds to 220", scored(3, "LOW_MEDIUM", True, systolic_bp=3), systolic_bp=219.5)
case("sbp 0", rejected("SYSTOLIC_BP_OUT_OF_RANGE"), systolic_bp=0)
case("sbp 0.5 rounds to 1", scored(3, "LOW_MEDIUM", True, systolic_bp=3), systolic_bp=0.5)
case("sbp 301", rejected("SYSTOLIC_BP_OUT_OF_RANGE"), systolic_bp=301)
case("sbp 300.5 rounds to 301", rejected("SYSTOLIC_BP_OUT_OF_RANGE"), systolic_bp=300.5)
case("sbp NaN", rejected("SYSTOLIC_BP_NOT_A_NUMBER"), systolic_bp=NAN)
case("sbp inf", rejected("SYSTOLIC_BP_NOT_A_NUMBER"), systolic_bp=INF)

# ---- pulse: <=40 3 | 41-50 1 | 51-90 0 | 91-110 1 | 111-130 2 | >=131 3; valid 1-300 ----------------------------
for value, points in [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2),
                      (131, 3), (1, 3), (300, 3)]:
    band = {0: "ZERO", 1: "LOW", 2: "LOW", 3: "LOW_MEDIUM"}[points]
    case(f"pulse {value}", scored(points, band, red=points == 3, pulse=points), pulse=value)
case("pulse 40.5 rounds to 41", scored(1, "LOW", pulse=1), pulse=40.5)
case("pulse 130.5 rounds to 131", scored(3, "LOW_MEDIUM", True, pulse=3), pulse=130.5)
case("pulse 0", rejected("PULSE_OUT_OF_RANGE"), pulse=0)
case("pulse -60", rejected("PULSE_OUT_OF_RANGE"), pulse=-60)
case("pulse 301", rejected("PULSE_OUT_OF_RANGE"), pulse=301)
case("pulse NaN", rejected("PULSE_NOT_A_NUMBER"), pulse=NAN)
case("pulse -inf", rejected("PULSE_NOT_A_NUMBER"), pulse=-INF)

# ---- consciousness: A 0 | C, V, P, U 3 -------------------------------------------------------------------------
for text in ["A", "a", " A ", "\tA\n", "alert", "Alert", "ALERT", " alert ", "våken", "Våken", "VÅKEN"]:
    case(f"consciousness {text!r}", scored(0, "ZERO"), consciousness=text)
for text in ["C", "c", "V", "v", "P", "p", "U", "u", " U ", "confused", "Confusion", "new confusion",
             "New Confusion", "voice", "PAIN", "unresponsive", " Unresponsive\t", "ny forvirring", "forvirret",
             "tiltale", "smerte", "ingen respons", "ikke kontaktbar", "Ikke Kontaktbar"]:
    case(f"consciousness {text!r}", scored(3, "LOW_MEDIUM", True, consciousness=3), consciousness=text)
for text in ["X", "D", "AV", "alertness", "confused?", "", "   ", "new  confusion", "ingen", "0"]:
    case(f"consciousness unknown {text!r}", rejected("UNKNOWN_CONSCIOUSNESS"), consciousness=text)

# ---- temperature: <=35.0 3 | 35.1-36.0 1 | 36.1-38.0 0 | 38.1-39.0 1 | >=39.1 2; valid 20.0-45.0 --------------
for value, points in [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2),
                      (20.0, 3), (45.0, 2)]:
    band = {0: "ZERO", 1: "LOW", 2: "LOW", 3: "LOW_MEDIUM"}[points]
    case(f"temp {value}", scored(points, band, red=points == 3, temperature=points), temperature=value)
    case(f"temp {value} float32", scored(points, band, red=points == 3, temperature=points),
         {"temperature": pa.float32()}, temperature=value)
case("temp int 37", scored(0, "ZERO"), {"temperature": pa.int64()}, temperature=37)
case("temp int 35", scored(3, "LOW_MEDIUM", True, temperature=3), {"temperature": pa.int16()}, temperature=35)
case("temp int 36", scored(1, "LOW", temperature=1), {"temperature": pa.uint8()}, temperature=36)
case("temp int 39", scored(1, "LOW", temperature=1), {"temperature": pa.int8()}, temperature=39)
case("temp int 40", scored(2, "LOW", temperature=2), {"temperature": pa.int32()}, temperature=40)
case("temp int 98 fahrenheit", rejected("TEMPERATURE_LIKELY_FAHRENHEIT"), {"temperature": pa.int64()},
     temperature=98)
# Quantisation: float32 35.05 is stored as 35.0499992 and still counts as 35.1; the same number sent as float64
# is 35.04999923706055 and counts as 35.0.
case("temp float32 35.05 -> 35.1", scored(1, "LOW", temperature=1), {"temperature": pa.float32()},
     temperature=35.05)
case("temp float64 35.05 -> 35.1", scored(1, "LOW", temperature=1), temperature=35.05)
case("temp float64 of float32 35.05 -> 35.0", scored(3, "LOW_MEDIUM", True, temperature=3),
     temperature=float(np.float32(35.05)))
case("temp float64 just below 35.05 -> 35.0", scored(3, "LOW_MEDIUM", True, temperature=3),
     temperature=float(np.nextafter(35.05, 0)))
case("temp float32 just below 35.05 -> 35.0", scored(3, "LOW_MEDIUM", True, temperature=3),
     {"temperature": pa.float32()}, temperature=float(np.nextafter(np.float32(35.05), np.float32(0))))
case("temp 35.04 -> 35.0", scored(3, "LOW_MEDIUM", True, temperature=3), temperature=35.04)
for value, points in [(36.05, 0), (38.05, 1), (39.05, 2), (36.04, 1), (38.04, 0), (39.04, 1)]:
    band = {0: "ZERO", 1: "LOW", 2: "LOW"}[points]
    for typ in (pa.float64(), pa.float32()):
        case(f"temp {value} {typ}", scored(points, band, temperature=points), {"temperature": typ},
             temperature=value)
case("temp 19.9", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=19.9)
case("temp 19.95 -> 20.0", scored(3, "LOW_MEDIUM", True, temperature=3), temperature=19.95)
case("temp 19.94 -> 19.9", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=19.94)
case("temp 45.04 -> 45.0", scored(2, "LOW", temperature=2), temperature=45.04)
case("temp 45.05 -> 45.1", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=45.05)
case("temp 45.1", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=45.1)
case("temp 85.9", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=85.9)
case("temp 85.95 -> 86.0", rejected("TEMPERATURE_LIKELY_FAHRENHEIT"), temperature=85.95)
case("temp 86.0", rejected("TEMPERATURE_LIKELY_FAHRENHEIT"), temperature=86.0)
case("temp 98.6", rejected("TEMPERATURE_LIKELY_FAHRENHEIT"), temperature=98.6)
case("temp 113.0", rejected("TEMPERATURE_LIKELY_FAHRENHEIT"), temperature=113.0)
case("temp 113.04 -> 113.0", rejected("TEMPERATURE_LIKELY_FAHRENHEIT"), temperature=113.04)
case("temp 113.05 -> 113.1", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=113.05)
case("temp 113.1", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=113.1)
case("temp 0", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=0.0)
case("temp -40", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=-40.0)
case("temp 1e6", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=1e6)
case("temp NaN", rejected("TEMPERATURE_NOT_A_NUMBER"), temperature=NAN)
case("temp inf", rejected("TEMPERATURE_NOT_A_NUMBER"), temperature=INF)
case("temp float32 NaN", rejected("TEMPERATURE_NOT_A_NUMBER"), {"temperature": pa.float32()}, temperature=NAN)

# ---- bands: HIGH >=7, MEDIUM >=5, LOW_MEDIUM a single 3, LOW >=1, ZERO; monitoring per band -------------------
case("band ZERO", scored(0, "ZERO"))
case("band LOW total 1", scored(1, "LOW", pulse=1), pulse=95)
case("band LOW total 4 no red", scored(4, "LOW", resp_rate=2, pulse=2), resp_rate=22, pulse=115)
case("band LOW_MEDIUM single 3 total 3", scored(3, "LOW_MEDIUM", True, consciousness=3), consciousness="V")
case("band LOW_MEDIUM red in total 4", scored(4, "LOW_MEDIUM", True, resp_rate=3, pulse=1), resp_rate=8, pulse=95)
case("band MEDIUM total 5 no red", scored(5, "MEDIUM", resp_rate=2, pulse=2, temperature=1), resp_rate=22,
     pulse=115, temperature=38.5)
case("band MEDIUM total 5 with red", scored(5, "MEDIUM", True, resp_rate=3, pulse=2), resp_rate=8, pulse=115)
case("band MEDIUM total 6", scored(6, "MEDIUM", resp_rate=2, pulse=2, temperature=2), resp_rate=22, pulse=115,
     temperature=39.5)
case("band MEDIUM total 6 with red", scored(6, "MEDIUM", True, systolic_bp=3, pulse=1, temperature=2),
     systolic_bp=85, pulse=100, temperature=39.5)
case("band HIGH total 7", scored(7, "HIGH", resp_rate=2, spo2=1, pulse=2, temperature=2), resp_rate=22, spo2=94,
     pulse=115, temperature=39.5)
case("band HIGH total 7 with red", scored(7, "HIGH", True, resp_rate=3, pulse=3, temperature=1), resp_rate=25,
     pulse=131, temperature=38.5)
case("band HIGH total 7 oxygen", scored(7, "HIGH", air_oxygen=2, resp_rate=2, pulse=2, systolic_bp=1),
     on_oxygen=True, resp_rate=22, pulse=115, systolic_bp=105)
case("band HIGH total 20", scored(20, "HIGH", True, resp_rate=3, spo2=3, air_oxygen=2, systolic_bp=3, pulse=3,
                                  consciousness=3, temperature=3),
     resp_rate=30, spo2=85, on_oxygen=True, systolic_bp=80, pulse=150, consciousness="U", temperature=34.0)
case("band HIGH total 19 scale 2", scored(19, "HIGH", True, resp_rate=3, spo2=3, air_oxygen=2, systolic_bp=3,
                                          pulse=3, consciousness=3, temperature=2),
     resp_rate=30, spo2=99, spo2_scale=2, on_oxygen=True, systolic_bp=230, pulse=35, consciousness="P",
     temperature=40.0)
case("two 3s total 6 MEDIUM", scored(6, "MEDIUM", True, resp_rate=3, pulse=3), resp_rate=6, pulse=35)

# ---- missing items: no imputation; partial total is a lower bound and still raises the band ------------------
for name, column in [("resp_rate", "resp_rate"), ("spo2", "spo2"), ("air_oxygen", "on_oxygen"),
                     ("systolic_bp", "systolic_bp"), ("pulse", "pulse"), ("consciousness", "consciousness"),
                     ("temperature", "temperature")]:
    case(f"missing {name}", scored(0, "ZERO", missing=name, **{name: None}), **{column: None})
case("missing resp and temperature", scored(0, "ZERO", missing="resp_rate;temperature", resp_rate=None,
                                            temperature=None), resp_rate=None, temperature=None)
case("missing spo2 and consciousness", scored(0, "ZERO", missing="spo2;consciousness", spo2=None,
                                              consciousness=None), spo2=None, consciousness=None)
case("missing all but temperature", scored(3, "LOW_MEDIUM", True,
                                           missing="resp_rate;spo2;air_oxygen;systolic_bp;pulse;consciousness",
                                           resp_rate=None, spo2=None, air_oxygen=None, systolic_bp=None,
                                           pulse=None, consciousness=None, temperature=3),
     resp_rate=None, spo2=None, on_oxygen=None, systolic_bp=None, pulse=None, consciousness=None, temperature=34.5)
case("only on_oxygen present", scored(2, "LOW",
                                      missing="resp_rate;spo2;systolic_bp;pulse;consciousness;temperature",
                                      resp_rate=None, spo2=None, air_oxygen=2, systolic_bp=None, pulse=None,
                                      consciousness=None, temperature=None),
     resp_rate=None, spo2=None, on_oxygen=True, systolic_bp=None, pulse=None, consciousness=None, temperature=None)
case("partial reaches MEDIUM", scored(5, "MEDIUM", True, missing="resp_rate", resp_rate=None, pulse=3,
                                      temperature=2), resp_rate=None, pulse=131, temperature=39.5)
case("partial reaches HIGH", scored(7, "HIGH", True, missing="spo2;air_oxygen", spo2=None, air_oxygen=None,
                                    resp_rate=3, pulse=2, temperature=2),
     spo2=None, on_oxygen=None, resp_rate=26, pulse=120, temperature=39.6)
case("partial single red LOW_MEDIUM", scored(3, "LOW_MEDIUM", True, missing="pulse", pulse=None,
                                             systolic_bp=3), pulse=None, systolic_bp=70)
case("no vital signs", rejected("NO_VITAL_SIGNS"), resp_rate=None, spo2=None, on_oxygen=None, systolic_bp=None,
     pulse=None, consciousness=None, temperature=None)
case("no vital signs beats under 16", rejected("NO_VITAL_SIGNS"), resp_rate=None, spo2=None, on_oxygen=None,
     systolic_bp=None, pulse=None, consciousness=None, temperature=None, age=10.0)

# ---- not applicable: age < 16 (checked first), pregnant ---------------------------------------------------------
case("age 15.9", not_applicable("UNDER_16"), age=15.9)
case("age 15.9 float32", not_applicable("UNDER_16"), {"age": pa.float32()}, age=15.9)
case("age 15.99999 is not rounded", not_applicable("UNDER_16"), age=15.99999)
case("age 16", scored(0, "ZERO"), age=16.0)
case("age 16 int", scored(0, "ZERO"), {"age": pa.uint8()}, age=16)
case("age 15 int", not_applicable("UNDER_16"), {"age": pa.int16()}, age=15)
case("age 0", not_applicable("UNDER_16"), age=0.0)
case("age 130", scored(0, "ZERO"), age=130.0)
case("age null", scored(0, "ZERO"), age=None)
case("age 130.5", rejected("AGE_OUT_OF_RANGE"), age=130.5)
case("age 131 int", rejected("AGE_OUT_OF_RANGE"), {"age": pa.uint8()}, age=131)
case("age -1", rejected("AGE_OUT_OF_RANGE"), age=-1.0)
case("age -0.1", rejected("AGE_OUT_OF_RANGE"), age=-0.1)
case("age NaN", rejected("AGE_OUT_OF_RANGE"), age=NAN)
case("age inf", rejected("AGE_OUT_OF_RANGE"), age=INF)
case("pregnant true", not_applicable("PREGNANT"), pregnant=True)
case("pregnant false", scored(0, "ZERO"), pregnant=False)
case("pregnant null", scored(0, "ZERO"), pregnant=None)
case("pregnant true and high score", not_applicable("PREGNANT"), pregnant=True, resp_rate=30, pulse=150)
case("under 16 checked before pregnant", not_applicable("UNDER_16"), age=15.0, pregnant=True)
case("pregnant adult", not_applicable("PREGNANT"), age=30.0, pregnant=True)
case("reject beats under 16", rejected("RESP_RATE_OUT_OF_RANGE"), age=15.9, resp_rate=0)
case("reject beats pregnant", rejected("UNKNOWN_CONSCIOUSNESS"), pregnant=True, consciousness="Q")

# ---- reject codes and their order: the first that applies ---------------------------------------------------
case("missing patient_id", rejected("MISSING_PATIENT_ID"), patient_id=None)
case("order patient_id before resp NaN", rejected("MISSING_PATIENT_ID"), patient_id=None, resp_rate=NAN)
case("order resp NaN before spo2 range", rejected("RESP_RATE_NOT_A_NUMBER"), resp_rate=NAN, spo2=120)
case("order resp range before spo2 NaN", rejected("RESP_RATE_OUT_OF_RANGE"), resp_rate=90, spo2=NAN)
case("order spo2 NaN before scale", rejected("SPO2_NOT_A_NUMBER"), spo2=NAN, spo2_scale=5)
case("order spo2 range before scale", rejected("SPO2_OUT_OF_RANGE"), spo2=-3, spo2_scale=5)
case("order scale before on_oxygen", rejected("SPO2_SCALE_INVALID"), {"on_oxygen": pa.int8()}, spo2_scale=5,
     on_oxygen=3)
case("order on_oxygen before sbp NaN", rejected("ON_OXYGEN_INVALID"), {"on_oxygen": pa.int8()}, on_oxygen=3,
     systolic_bp=NAN)
case("order sbp NaN before pulse range", rejected("SYSTOLIC_BP_NOT_A_NUMBER"), systolic_bp=NAN, pulse=0)
case("order sbp range before pulse NaN", rejected("SYSTOLIC_BP_OUT_OF_RANGE"), systolic_bp=400, pulse=NAN)
case("order pulse NaN before consciousness", rejected("PULSE_NOT_A_NUMBER"), pulse=NAN, consciousness="Z")
case("order pulse range before consciousness", rejected("PULSE_OUT_OF_RANGE"), pulse=0, consciousness="Z")
case("order consciousness before temp NaN", rejected("UNKNOWN_CONSCIOUSNESS"), consciousness="Z",
     temperature=NAN)
case("order temp NaN before age", rejected("TEMPERATURE_NOT_A_NUMBER"), temperature=NAN, age=-1.0)
case("order fahrenheit before age", rejected("TEMPERATURE_LIKELY_FAHRENHEIT"), temperature=100.0, age=200.0)
case("order temp range before age", rejected("TEMPERATURE_OUT_OF_RANGE"), temperature=50.0, age=NAN)
case("order age before no vital signs", rejected("AGE_OUT_OF_RANGE"), resp_rate=None, spo2=None, on_oxygen=None,
     systolic_bp=None, pulse=None, consciousness=None, temperature=None, age=-1.0)
case("order everything wrong", rejected("MISSING_PATIENT_ID"), {"on_oxygen": pa.int8()}, patient_id=None,
     resp_rate=INF, spo2=NAN, spo2_scale=9, on_oxygen=7, systolic_bp=0, pulse=NAN, consciousness="?",
     temperature=98.6, age=NAN)
case("order all wrong but patient", rejected("RESP_RATE_NOT_A_NUMBER"), {"on_oxygen": pa.int8()},
     resp_rate=INF, spo2=NAN, spo2_scale=9, on_oxygen=7, systolic_bp=0, pulse=NAN, consciousness="?",
     temperature=98.6, age=NAN)

# ---- integer and other input types ----------------------------------------------------------------------------
case("integer patient_id", scored(0, "ZERO"), {"patient_id": pa.int64()}, patient_id=42)
case("integer patient_id null", rejected("MISSING_PATIENT_ID"), {"patient_id": pa.int64()}, patient_id=None)
case("uint8 int16 int64 float32 columns", scored(7, "HIGH", True, resp_rate=3, spo2=2, systolic_bp=1, pulse=1),
     {"resp_rate": pa.uint8(), "spo2": pa.int16(), "systolic_bp": pa.int64(), "pulse": pa.float32(),
      "temperature": pa.float32()},
     resp_rate=7, spo2=92, systolic_bp=110, pulse=90.5, temperature=36.05)
case("uint8 resp 255 out of range", rejected("RESP_RATE_OUT_OF_RANGE"), {"resp_rate": pa.uint8()}, resp_rate=255)
case("int8 spo2 -128 out of range", rejected("SPO2_OUT_OF_RANGE"), {"spo2": pa.int8()}, spo2=-128)
case("uint64 sbp huge out of range", rejected("SYSTOLIC_BP_OUT_OF_RANGE"), {"systolic_bp": pa.uint64()},
     systolic_bp=2**64 - 1)
case("int64 pulse huge negative", rejected("PULSE_OUT_OF_RANGE"), {"pulse": pa.int64()}, pulse=-(2**63))
case("float32 spo2 91.5 -> 92", scored(2, "LOW", spo2=2), {"spo2": pa.float32()}, spo2=91.5)
case("float32 resp 20.5 -> 21", scored(2, "LOW", resp_rate=2), {"resp_rate": pa.float32()}, resp_rate=20.5)

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), sorted(i for i in _ids if _ids.count(i) > 1)


# =================================================================================================================
# The kernel


@pytest.fixture(scope="module")
def scoring():
    return pytest.importorskip("varde.scoring")


def result_rows(result) -> list[dict]:
    """The result columns of a kernel output as rows of Python values (dictionary strings decoded)."""
    columns = {name: result.column(name).to_pylist() for name in RESULT_COLUMNS}
    return [{name: columns[name][i] for name in RESULT_COLUMNS} for i in range(result.num_rows)]


def check_layout(scoring, data, result):
    """Input columns unchanged and in place, then exactly the result columns with their contract types."""
    assert type(result) is type(data)
    assert result.num_rows == data.num_rows
    assert result.column_names == data.column_names + list(RESULT_COLUMNS)
    from varde.scoring import schema

    for f in schema.result_schema():
        assert result.schema.field(f.name).type == f.type, f.name
    for i, name in enumerate(data.column_names):
        assert result.schema.field(i) == data.schema.field(i)
        after, before = result.column(i).to_pylist(), data.column(i).to_pylist()
        assert len(after) == len(before) and all(same(a, b) for a, b in zip(after, before, strict=True)), name


def same(actual, expected) -> bool:
    return actual == expected or (
        isinstance(actual, float) and isinstance(expected, float) and math.isnan(actual) and math.isnan(expected))


@pytest.mark.parametrize("c", CASES, ids=_ids)
def test_case(scoring, c: Case):
    table = c.table()
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    assert result_rows(result) == [c.expected]


def test_contract_names_match_schema(scoring):
    from varde.scoring import schema

    assert tuple(schema.RESULT_COLUMNS) == RESULT_COLUMNS
    assert tuple(schema.PARAMETERS) == ITEMS
    assert schema.MISSING_NAMES[0b1010101] == "resp_rate;air_oxygen;pulse;temperature"


def _all_cases_table() -> tuple[pa.Table, list[dict]]:
    """Every case that uses the default types and columns, as one table; the expected rows in the same order."""
    chosen = [c for c in CASES if not c.types and set(c.row()) == set(BASE)]
    rows = [c.row() for c in chosen]
    types = TYPES
    table = pa.table({name: pa.array([r[name] for r in rows], type=types[name]) for name in BASE})
    return table, [c.expected for c in chosen]


def test_all_cases_in_one_batch(scoring):
    # The same rows together: no row may leak into its neighbours.
    table, expected = _all_cases_table()
    assert table.num_rows > 200
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    assert result_rows(result) == expected


def test_extra_columns_pass_through_in_place(scoring):
    ts = pa.array([1_700_000_000_000_000, None], pa.timestamp("us"))
    table = pa.table({
        "note": pa.array(["first", None]),
        "patient_id": pa.array(["a", "b"]),
        "observed_at": ts,
        "resp_rate": pa.array([16.0, 25.0]),
        "ward": pa.array([7, 8], pa.int32()),
        "spo2": pa.array([98.0, 98.0]),
        "on_oxygen": pa.array([False, False]),
        "systolic_bp": pa.array([120.0, 120.0]),
        "pulse": pa.array([70.0, 70.0]),
        "consciousness": pa.array(["A", "A"]),
        "temperature": pa.array([37.0, 37.0]),
        "nested": pa.array([[1, 2], []], pa.list_(pa.int64())),
    })
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    assert result.column_names[:12] == ["note", "patient_id", "observed_at", "resp_rate", "ward", "spo2",
                                        "on_oxygen", "systolic_bp", "pulse", "consciousness", "temperature",
                                        "nested"]
    assert result.column("observed_at").equals(table.column("observed_at"))
    assert result.column("nested").to_pylist() == [[1, 2], []]
    assert result_rows(result) == [scored(0, "ZERO"), scored(3, "LOW_MEDIUM", True, resp_rate=3)]


def test_iso_string_observed_at_passes_through(scoring):
    table = Case("x", {"observed_at": "2024-05-01T10:00:00Z"}, {}, {"observed_at": pa.string()}).table()
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    assert result.column("observed_at").to_pylist() == ["2024-05-01T10:00:00Z"]
    assert result_rows(result) == [scored(0, "ZERO")]


STRING_TYPES = [
    pa.large_string(),
    pa.string_view(),
    pa.dictionary(pa.int32(), pa.string()),
    pa.dictionary(pa.int8(), pa.large_string()),
    pa.dictionary(pa.uint16(), pa.string()),
]


@pytest.mark.parametrize("typ", STRING_TYPES, ids=str)
def test_string_encodings(scoring, typ):
    consciousness = ["A", " v ", None, "Alert", "ingen respons", "A", "bogus", "VÅKEN", "A"]
    patient_id = ["p1", "p2", "p3", "p1", "p2", None, "p3", "p4", ""]
    n = len(consciousness)
    table = pa.table({
        "patient_id": pa.array(patient_id, type=typ),
        "resp_rate": pa.array([16.0] * n),
        "spo2": pa.array([98.0] * n),
        "on_oxygen": pa.array([False] * n),
        "systolic_bp": pa.array([120.0] * n),
        "pulse": pa.array([70.0] * n),
        "consciousness": pa.array(consciousness, type=typ),
        "temperature": pa.array([37.0] * n),
    })
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    zero = scored(0, "ZERO")
    red = scored(3, "LOW_MEDIUM", True, consciousness=3)
    assert result_rows(result) == [
        zero,
        red,
        scored(0, "ZERO", missing="consciousness", consciousness=None),
        zero,
        red,
        rejected("MISSING_PATIENT_ID"),
        rejected("UNKNOWN_CONSCIOUSNESS"),
        zero,
        zero,  # an empty patient_id is a value, not a null
    ]


def test_dictionary_with_unused_and_null_entries(scoring):
    # Indices that point at an unknown word must reject only the rows that use them.
    dictionary = pa.array(["bogus", "A", "U", "alert"])
    consciousness = pa.DictionaryArray.from_arrays(pa.array([1, 2, None, 3, 1, 0], pa.int8()), dictionary)
    n = len(consciousness)
    table = pa.table({
        "patient_id": pa.array(["p"] * n),
        "resp_rate": pa.array([16] * n, pa.int32()),
        "spo2": pa.array([98] * n, pa.int32()),
        "on_oxygen": pa.array([False] * n),
        "systolic_bp": pa.array([120] * n, pa.int32()),
        "pulse": pa.array([70] * n, pa.int32()),
        "consciousness": consciousness,
        "temperature": pa.array([37.0] * n),
    })
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    zero = scored(0, "ZERO")
    assert result_rows(result) == [
        zero,
        scored(3, "LOW_MEDIUM", True, consciousness=3),
        scored(0, "ZERO", missing="consciousness", consciousness=None),
        zero,
        zero,
        rejected("UNKNOWN_CONSCIOUSNESS"),
    ]


def test_non_nullable_integer_columns(scoring):
    schema = pa.schema([
        pa.field("patient_id", pa.int64(), nullable=False),
        pa.field("resp_rate", pa.int16(), nullable=False),
        pa.field("spo2", pa.uint8(), nullable=False),
        pa.field("on_oxygen", pa.bool_(), nullable=False),
        pa.field("systolic_bp", pa.int32(), nullable=False),
        pa.field("pulse", pa.int64(), nullable=False),
        pa.field("consciousness", pa.string(), nullable=False),
        pa.field("temperature", pa.float64(), nullable=False),
        pa.field("spo2_scale", pa.int8(), nullable=False),
        pa.field("age", pa.uint8(), nullable=False),
        pa.field("pregnant", pa.bool_(), nullable=False),
    ])
    table = pa.table({
        "patient_id": [1, 2, 3, 4],
        "resp_rate": [8, 21, 16, 16],
        "spo2": [97, 97, 97, 97],
        "on_oxygen": [True, False, False, False],
        "systolic_bp": [120, 120, 120, 120],
        "pulse": [70, 70, 70, 70],
        "consciousness": ["A", "A", "A", "A"],
        "temperature": [37.0, 37.0, 37.0, 37.0],
        "spo2_scale": [2, 2, 1, 1],
        "age": [80, 80, 15, 16],
        "pregnant": [False, False, False, True],
    }, schema=schema)
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    assert result_rows(result) == [
        scored(8, "HIGH", True, resp_rate=3, spo2=3, air_oxygen=2),
        scored(2, "LOW", resp_rate=2),
        not_applicable("UNDER_16"),
        not_applicable("PREGNANT"),
    ]


@pytest.mark.parametrize("offset,length", [(1, 5), (3, 17), (7, 100), (13, 0), (9, None)])
def test_sliced_table(scoring, offset, length):
    # Offsets that are not a multiple of 8 exercise the validity and boolean bitmaps' bit offsets.
    table, expected = _all_cases_table()
    sliced = table.slice(offset, length)
    assert length == 0 or sliced.column("on_oxygen").chunk(0).offset == offset
    result = scoring.score_news2(sliced)
    check_layout(scoring, sliced, result)
    stop = None if length is None else offset + length
    assert result_rows(result) == expected[offset:stop]


def test_multi_chunk_table(scoring):
    table, expected = _all_cases_table()
    n = table.num_rows
    cuts = [0, 1, 1, 9, 40, 41, 100, n]  # includes an empty chunk
    chunks = [table.slice(a, b - a) for a, b in itertools.pairwise(cuts)]
    multi = pa.concat_tables(chunks)
    assert multi.column("resp_rate").num_chunks == len(chunks)
    result = scoring.score_news2(multi)
    check_layout(scoring, multi, result)
    assert result_rows(result) == expected


def test_multi_chunk_dictionaries_differ_per_chunk(scoring):
    # Each chunk of a dictionary column may carry its own dictionary.
    def chunk(words):
        n = len(words)
        return pa.table({
            "patient_id": pa.array(["p"] * n).dictionary_encode(),
            "resp_rate": pa.array([16.0] * n),
            "spo2": pa.array([98.0] * n),
            "on_oxygen": pa.array([False] * n),
            "systolic_bp": pa.array([120.0] * n),
            "pulse": pa.array([70.0] * n),
            "consciousness": pa.array(words).dictionary_encode(),
            "temperature": pa.array([37.0] * n),
        })

    table = pa.concat_tables([chunk(["A", "V"]), chunk(["V", "nope", "A"]), chunk(["U"])])
    assert table.column("consciousness").num_chunks == 3
    result = scoring.score_news2(table)
    check_layout(scoring, table, result)
    zero = scored(0, "ZERO")
    red = scored(3, "LOW_MEDIUM", True, consciousness=3)
    assert result_rows(result) == [zero, red, red, rejected("UNKNOWN_CONSCIOUSNESS"), zero, red]


def test_record_batch_in_record_batch_out(scoring):
    table, expected = _all_cases_table()
    batch = table.combine_chunks().to_batches()[0]
    result = scoring.score_news2(batch)
    assert isinstance(result, pa.RecordBatch)
    check_layout(scoring, batch, result)
    assert result_rows(result) == expected


def test_sliced_record_batch(scoring):
    table, expected = _all_cases_table()
    batch = table.combine_chunks().to_batches()[0].slice(5, 30)
    result = scoring.score_news2(batch)
    assert isinstance(result, pa.RecordBatch)
    check_layout(scoring, batch, result)
    assert result_rows(result) == expected[5:35]


REQUIRED = ("patient_id", "resp_rate", "spo2", "on_oxygen", "systolic_bp", "pulse", "consciousness",
            "temperature")


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("kind", ["table", "batch"])
def test_missing_required_column(scoring, name, kind):
    table = Case("x", {}, {}).table().drop_columns([name])
    data = table if kind == "table" else table.to_batches()[0]
    with pytest.raises(scoring.SchemaError) as info:
        scoring.score_news2(data)
    assert info.value.column == name
    assert repr(name) in str(info.value) or name in str(info.value)


def test_schema_error_is_value_error(scoring):
    assert issubclass(scoring.SchemaError, ValueError)


@pytest.mark.parametrize("typ", [pa.float64(), pa.int32(), pa.null()], ids=str)
def test_all_null_required_column_is_not_an_error(scoring, typ):
    # "required (may be all null)"; pa.table({"resp_rate": [None]}) infers the null type.
    table = Case("x", {"resp_rate": None}, {}, {"resp_rate": typ}).table()
    result = scoring.score_news2(table)
    assert result_rows(result) == [scored(0, "ZERO", missing="resp_rate", resp_rate=None)]


@pytest.mark.parametrize("kind", ["table", "batch"])
def test_empty_input(scoring, kind):
    table = Case("x", {"age": 40.0, "spo2_scale": 1}, {}).table().slice(0, 0)
    data = table if kind == "table" else pa.RecordBatch.from_pylist([], schema=table.schema)
    result = scoring.score_news2(data)
    assert type(result) is type(data)
    assert result.num_rows == 0
    check_layout(scoring, data, result)


def test_empty_table_with_no_chunks(scoring):
    schema = Case("x", {}, {}).table().schema
    table = schema.empty_table()
    result = scoring.score_news2(table)
    assert result.num_rows == 0
    check_layout(scoring, table, result)


def test_input_not_modified(scoring):
    table, _ = _all_cases_table()
    before = table.to_pylist()
    scoring.score_news2(table)
    after = table.to_pylist()
    assert all(same(a[k], b[k]) for a, b in zip(after, before, strict=True) for k in a)
