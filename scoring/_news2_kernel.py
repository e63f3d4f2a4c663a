"""NEWS2 kernels: arrays in, arrays out; no validation, no I/O.

Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment of
acute-illness severity in the NHS. London: RCP, 2017. Chart 1 (bands), Table 2 and Chart 4 (response, monitoring).
Reproduced as computation only; the chart is the RCP's.

Column arguments have the fixed tuple shape described in `arrow.py`. Output bitmaps are written directly:
rows are processed in blocks of BLOCK rows, a multiple of 8, so each bitmap byte belongs to exactly one block
and parallel blocks never write the same byte.
"""

from __future__ import annotations

import numpy as np

from ._jit import helper, parallel, prange, serial
from .arrow import ABSENT, F32, F64, I8, I16, I32, I64

BLOCK = 2048

# Reject codes: indices into schema.REJECT_REASONS (checked by a test).
MISSING_PATIENT_ID = 0
RESP_RATE_NOT_A_NUMBER = 1
RESP_RATE_OUT_OF_RANGE = 2
SPO2_NOT_A_NUMBER = 3
SPO2_OUT_OF_RANGE = 4
SPO2_SCALE_INVALID = 5
ON_OXYGEN_INVALID = 6
SYSTOLIC_BP_NOT_A_NUMBER = 7
SYSTOLIC_BP_OUT_OF_RANGE = 8
PULSE_NOT_A_NUMBER = 9
PULSE_OUT_OF_RANGE = 10
UNKNOWN_CONSCIOUSNESS = 11
TEMPERATURE_NOT_A_NUMBER = 12
TEMPERATURE_LIKELY_FAHRENHEIT = 13
TEMPERATURE_OUT_OF_RANGE = 14
AGE_OUT_OF_RANGE = 15
NO_VITAL_SIGNS = 16
INVALID_NATIONAL_ID = 17  # not written here: news2.reject_invalid_ids relabels MISSING_PATIENT_ID rows
OBSERVED_IN_FUTURE = 18  # likewise

UNDER_16 = 0
PREGNANT = 1

# Consciousness codes after the dictionary look-up.
CONS_NULL = -1
CONS_UNKNOWN = -2
CONS_ALERT = 0  # 1..4: C, V, P, U

# Rows of the output bitmap matrix.
BM_SCORED = 0  # validity of total, band, red, complete, monitoring
BM_RED = 1
BM_COMPLETE = 2
BM_MISSING = 3  # validity of news2_missing
BM_APPLICABLE_VALID = 4
BM_APPLICABLE = 5
BM_NA = 6
BM_REJECT = 7
N_BITMAPS = 8

ALL_MISSING = 127


@helper
def _bit(bits, offset, i):
    j = np.uint64(offset) + np.uint64(i)
    return (bits[j >> 3] >> (j & 7)) & 1


@helper
def _quantise(v, is_f32, k):
    """Round v to the chart's resolution 1/k, half away from zero, as the sender meant it.

    A value counts as a half-way point when it is the nearest number of its own type to that decimal point:
    float32 35.05 is 35.0499992 and must round to 35.1. Integers are exact. Written without branches, so that
    the loops calling it vectorise.
    """
    a = abs(v)
    n = np.floor(a * k)
    half = (n + 0.5) / k
    half32 = np.float64(np.float32(half))
    h = half32 if is_f32 else half
    n += 1.0 if a >= h else 0.0
    return n if v >= 0 else -n


def _resp_points(q):
    if q <= 8:
        return 3
    if q <= 11:
        return 1
    if q <= 20:
        return 0
    if q <= 24:
        return 2
    return 3


def _spo2_points(q, scale2, oxygen):
    if not scale2:
        if q <= 91:
            return 3
        if q <= 93:
            return 2
        if q <= 95:
            return 1
        return 0
    if q <= 83:
        return 3
    if q <= 85:
        return 2
    if q <= 87:
        return 1
    if q <= 92 or not oxygen:
        # 88-92, and >= 93 on air, score 0 on scale 2.
        return 0
    if q <= 94:
        return 1
    if q <= 96:
        return 2
    return 3


def _sbp_points(q):
    if q <= 90:
        return 3
    if q <= 100:
        return 2
    if q <= 110:
        return 1
    if q <= 219:
        return 0
    return 3


def _pulse_points(q):
    if q <= 40:
        return 3
    if q <= 50:
        return 1
    if q <= 90:
        return 0
    if q <= 110:
        return 1
    if q <= 130:
        return 2
    return 3


def _temp_points(q):
    # q in tenths of a degree
    if q <= 350:
        return 3
    if q <= 360:
        return 1
    if q <= 380:
        return 0
    if q <= 390:
        return 1
    return 2


# Chart 4: ZERO 12-hourly, LOW 4-6-hourly, LOW_MEDIUM and MEDIUM 1-hourly, HIGH continuous.
MONITORING_OF_BAND = np.array([0, 1, 2, 2, 3], np.int8)

NONE = 127  # no reject yet: reject codes are priorities, so a row keeps the smallest it meets
NO_REASON = 255  # no reason (yet) that NEWS2 does not apply

# What a column pass computes. The first five are the measured vital signs.
W_RESP, W_SPO2, W_SBP, W_PULSE, W_TEMP, W_SCALE, W_OXY, W_CONS, W_AGE, W_PREG = range(10)
# For each measured sign: its slot in `sub` (chart order), resolution factor, valid range on the rounded value,
# and reject codes.
SLOT = np.array([0, 1, 3, 4, 6], np.int64)
FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 10.0])
LOW = np.array([1.0, 0.0, 1.0, 1.0, 200.0])
HIGH = np.array([80.0, 100.0, 300.0, 300.0, 450.0])
# Rounded values that are out of range but look like degrees Fahrenheit (86-113 °F); temperature only.
FAHRENHEIT_LOW = np.array([1.0, 1.0, 1.0, 1.0, 860.0])
FAHRENHEIT_HIGH = np.array([0.0, 0.0, 0.0, 0.0, 1130.0])
NAN_CODE = np.array([RESP_RATE_NOT_A_NUMBER, SPO2_NOT_A_NUMBER, SYSTOLIC_BP_NOT_A_NUMBER, PULSE_NOT_A_NUMBER,
                     TEMPERATURE_NOT_A_NUMBER], np.uint8)
RANGE_CODE = np.array([RESP_RATE_OUT_OF_RANGE, SPO2_OUT_OF_RANGE, SYSTOLIC_BP_OUT_OF_RANGE, PULSE_OUT_OF_RANGE,
                       TEMPERATURE_OUT_OF_RANGE], np.uint8)

# Every chart as steps over its valid range: points(q) = first + the sum of STEP_POINTS[k] for each
# STEP_AT[k] <= q. Compare-and-add with the thresholds loaded once per block keeps the row loops free of
# branches and table look-ups, so LLVM vectorises them. Rows: the five measured signs in W_ order, then SpO2
# scale 2 on oxygen (scale 2 on air is the same chart cut to 0 from 93 %).
N_STEPS = 6


def _steps(points, lo, hi):
    at, add = [], []
    for q in range(lo + 1, hi + 1):
        if points(q) != points(q - 1):
            at.append(q)
            add.append(points(q) - points(q - 1))
    assert len(at) <= N_STEPS, points
    pad = N_STEPS - len(at)
    return points(lo), at + [1 << 20] * pad, add + [0] * pad


_CHARTS = [
    _steps(_resp_points, 1, 80),
    _steps(lambda q: _spo2_points(q, False, False), 0, 100),
    _steps(_sbp_points, 1, 300),
    _steps(_pulse_points, 1, 300),
    _steps(_temp_points, 200, 450),
    _steps(lambda q: _spo2_points(q, True, True), 0, 100),
]
STEP_FIRST = np.array([c[0] for c in _CHARTS], np.int32)
STEP_AT = np.array([c[1] for c in _CHARTS], np.int32)
STEP_POINTS = np.array([c[2] for c in _CHARTS], np.int32)
SPO2_SCALE2 = 5
# The same charts as selects: CHART_POINTS[row, k] from STEP_AT16[row, k - 1] on (int16: rounded values fit).
STEP_AT16 = np.minimum(STEP_AT, np.iinfo(np.int16).max).astype(np.int16)
CHART_POINTS = np.cumsum(np.concatenate([STEP_FIRST[:, None], STEP_POINTS], axis=1), axis=1).astype(np.int8)
# The valid and Fahrenheit ranges in an integer column's own units (whole breaths, degrees, ...).
INT_LOW = np.ceil(LOW / FACTOR).astype(np.int64)
INT_HIGH = np.floor(HIGH / FACTOR).astype(np.int64)
INT_FAHRENHEIT_LOW = np.ceil(FAHRENHEIT_LOW / FACTOR).astype(np.int64)
INT_FAHRENHEIT_HIGH = np.floor(FAHRENHEIT_HIGH / FACTOR).astype(np.int64)
SPO2_AIR_CUT = 93  # scale 2 on air: 93 % and above score 0
for _t in (MONITORING_OF_BAND, SLOT, FACTOR, LOW, HIGH, FAHRENHEIT_LOW, FAHRENHEIT_HIGH, NAN_CODE, RANGE_CODE,
           STEP_FIRST, STEP_AT, STEP_POINTS, STEP_AT16, CHART_POINTS, INT_LOW, INT_HIGH,
           INT_FAHRENHEIT_LOW, INT_FAHRENHEIT_HIGH):
    _t.flags.writeable = False

# Scratch rows, one byte per row of the block.
R_VALID = 0  # the validity of the column in hand, one byte per row
R_BOOL = 1  # a boolean column's values, one byte per row
R_REJECT = 2  # the best reject code so far
R_MISSING = 3  # bit per chart slot: not measured
R_SEL = 4  # SpO2 chart: 0 scale 1, 1 scale 2 on air, 2 scale 2 on oxygen
R_NA = 5  # why NEWS2 does not apply (NO_REASON: it does)
R_FLAGS = 6  # bit per row bitmap (F_*), packed at the end
R_SUB_VALID = 7  # bit k: sub-score k is valid
R_TOTAL = 8  # the total so far
R_RED = 9  # 1: a single parameter scored 3
R_NEAR = 10  # 1: a float value's fraction is too near one half to decide without the exact rule
R_CODE = 11  # consciousness code, less CONS_UNKNOWN
R_REJECT_BEFORE = 12  # R_REJECT before the float column in hand
R_BAND = 13
N_SCRATCH = 14
# How near one half a scaled value's fraction must be to be decided exactly: well above float32's error in
# the scaled value (about 4e-5 at 113 degrees) and float64's.
NEAR = 1e-4

# Bits of R_FLAGS, one per output bitmap (BM_*): bit k of the byte is BM_ k.
F_SCORED = np.uint8(1 << BM_SCORED)
F_RED = np.uint8(1 << BM_RED)
F_COMPLETE = np.uint8(1 << BM_COMPLETE)
F_MISSING = np.uint8(1 << BM_MISSING)
F_APPLICABLE_VALID = np.uint8(1 << BM_APPLICABLE_VALID)
F_APPLICABLE = np.uint8(1 << BM_APPLICABLE)
F_NA = np.uint8(1 << BM_NA)
F_REJECT = np.uint8(1 << BM_REJECT)

_U0 = np.uint64(0)
_U3 = np.uint64(3)
_U7 = np.uint64(7)
_ONES = np.uint64(0x0101010101010101)  # one byte of 1 per row: broadcast a byte, or keep bit 0 of each
_PICK = np.uint64(0x8040201008040201)  # byte t keeps bit t
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH1 = np.uint64(0x8080808080808080)
_T1 = np.uint64(0x00AA00AA00AA00AA)
_T2 = np.uint64(0x0000CCCC0000CCCC)
_T3 = np.uint64(0x00000000F0F0F0F0)
_S7 = np.uint64(7)
_S14 = np.uint64(14)
_S28 = np.uint64(28)
_BYTE = np.uint64(0xFF)


@helper
def _expand(bits, off, start, n, out):
    """out[t] = bit start + t of a bitmap (1 for every row when it is empty), for t < n (rounded up to 8)."""
    un = np.uint64(n)
    if bits.size == 0:
        for t in range(_U0, un):
            out[t] = 1
        return
    j0 = np.uint64(off) + np.uint64(start)
    if j0 & _U7 == _U0:
        # Eight rows per byte: spread the byte over a word, keep bit t in byte t, turn each byte into 0 or 1.
        words = out.view(np.uint64)
        b0 = j0 >> _U3
        for w in range(_U0, (un + _U7) >> _U3):
            x = (np.uint64(bits[b0 + w]) * _ONES) & _PICK
            words[w] = ((x + _LOW7) & _HIGH1) >> _U7
        return
    for t in range(_U0, un):
        j = j0 + t
        out[t] = (bits[j >> _U3] >> (j & _U7)) & 1


@helper
def _transpose8(x):
    """The 8x8 bit matrix in a word, transposed: bit 8r + c moves to 8c + r (Hacker's Delight, 7-3)."""
    t = (x ^ (x >> _S7)) & _T1
    x = x ^ t ^ (t << _S7)
    t = (x ^ (x >> _S14)) & _T2
    x = x ^ t ^ (t << _S14)
    t = (x ^ (x >> _S28)) & _T3
    return x ^ t ^ (t << _S28)


@helper
def _pack(flags, n, nbits, byte0, out):
    """Bit k of flags[t] into bit t of out[k, byte0 + t // 8], for k < nbits: eight rows per transpose."""
    un = np.uint64(n)
    for t in range(un, (un + _U7) & ~_U7):
        flags[t] = 0
    words = flags.view(np.uint64)
    ub = np.uint64(byte0)
    for w in range(_U0, (un + _U7) >> _U3):
        x = _transpose8(words[w])
        for k in range(nbits):
            out[k, ub + w] = (x >> np.uint64(8 * k)) & _BYTE


@helper
def _chart(row):
    """A chart's thresholds (int16) and the points from each (int8), as locals the row loop keeps in registers."""
    return (STEP_AT16[row, 0], STEP_AT16[row, 1], STEP_AT16[row, 2], STEP_AT16[row, 3], STEP_AT16[row, 4],
            STEP_AT16[row, 5], CHART_POINTS[row, 0], CHART_POINTS[row, 1], CHART_POINTS[row, 2],
            CHART_POINTS[row, 3], CHART_POINTS[row, 4], CHART_POINTS[row, 5], CHART_POINTS[row, 6])


@helper
def _points(q, c):
    # Selects on narrow types only: Numba widens integer arithmetic to 64 bits, which quarters the vector width.
    return (c[12] if q >= c[5] else c[11] if q >= c[4] else c[10] if q >= c[3] else c[9] if q >= c[2]
            else c[8] if q >= c[1] else c[7] if q >= c[0] else c[6])


@helper
def _sign(what):
    """What a measured sign's loop needs, hoisted out of it: its chart (and SpO2's scale 2 chart), its slot in
    `sub`, its missing bit and its reject codes."""
    return (_chart(what), _chart(SPO2_SCALE2), np.uint64(SLOT[what]), np.uint8(1 << SLOT[what]),
            np.uint8(NAN_CODE[what]), np.uint8(RANGE_CODE[what]))


@helper
def _measure_row(t, i, ok, fin, inr, fahr, q, spo2, sign, scratch, sub):
    """Points, reject code and missing bit of one measured value, without a branch. `spo2` is a constant at each
    call site, so the SpO2 charts cost the other signs nothing."""
    c, c2, slot, miss_bit, nan_code, range_code = sign
    if spo2:
        sel = scratch[R_SEL, t]
        p2 = _points(q, c2)
        p2 = p2 if ((sel == 2) | (q < SPO2_AIR_CUT)) else np.int8(0)
        p = _points(q, c) if sel == 0 else p2
    else:
        p = _points(q, c)
    good = ok & fin & inr
    sub[slot, i] = p if good else np.int8(-1)
    code = np.uint8(TEMPERATURE_LIKELY_FAHRENHEIT) if fahr else range_code
    code = code if (ok & fin & (inr == False)) else np.uint8(NONE)  # noqa: E712 (a select, not a branch)
    code = nan_code if (ok & (fin == False)) else code  # noqa: E712
    scratch[R_REJECT, t] = min(scratch[R_REJECT, t], code)
    scratch[R_MISSING, t] |= np.uint8(0) if ok else miss_bit


@helper
def _float_loop(arr, base, is_f32, start, n, scratch, sub, spo2, what):
    """Measured values from a float column: first every row with the fraction read off the scaled value (a loop
    without a division, which vectorises), then, by the exact rule (_quantise), the few rows whose fraction lies
    within NEAR of one half, where that reading could be one off."""
    sign = _sign(what)
    k = FACTOR[what]
    # With k == 1 the fraction is exact and so is the decision (n + 0.5 is exact in either width).
    near_by = NEAR if k != 1.0 else -1.0
    lo = LOW[what]
    hi = HIGH[what]
    flo = FAHRENHEIT_LOW[what]
    fhi = FAHRENHEIT_HIGH[what]
    ustart = np.uint64(start)
    ubase = np.uint64(base)
    un = np.uint64(n)
    # The reject codes before this column, for the rows the exact pass decides again (a min cannot be undone).
    for t in range(_U0, un):
        scratch[R_REJECT_BEFORE, t] = scratch[R_REJECT, t]
    for t in range(_U0, un):
        v = np.float64(arr[ubase + t])
        ok = scratch[R_VALID, t] != 0
        fin = abs(v) < np.inf
        scaled = abs(v) * k
        whole = np.floor(scaled)
        fraction = scaled - whole
        whole += 1.0 if fraction >= 0.5 else 0.0
        q = whole if v >= 0 else -whole
        inr = (q >= lo) & (q <= hi)
        fahr = (q >= flo) & (q <= fhi)
        q16 = np.int16(q if inr else 0.0)
        _measure_row(t, ustart + t, ok, fin, inr, fahr, q16, spo2, sign, scratch, sub)
        scratch[R_NEAR, t] = np.uint8(1) if (ok & (abs(fraction - 0.5) < near_by)) else np.uint8(0)
    for t in range(un, (un + _U7) & ~_U7):
        scratch[R_NEAR, t] = 0
    words = scratch[R_NEAR].view(np.uint64)
    for w in range(_U0, (un + _U7) >> _U3):
        if words[w] == 0:
            continue
        for t in range(w << _U3, min(un, (w + np.uint64(1)) << _U3)):
            if scratch[R_NEAR, t] == 0:
                continue
            q = _quantise(np.float64(arr[ubase + t]), is_f32, k)
            inr = (q >= lo) & (q <= hi)
            fahr = (q >= flo) & (q <= fhi)
            scratch[R_REJECT, t] = scratch[R_REJECT_BEFORE, t]
            _measure_row(t, ustart + t, True, True, inr, fahr, np.int16(q if inr else 0.0), spo2, sign, scratch,
                         sub)


@helper
def _int_loop(q, start, n, scratch, sub, spo2, what):
    """Measured values from an integer column, narrowed to int16 (_narrow): exact, no rounding."""
    sign = _sign(what)
    # The range in the column's own units (whole degrees), so that scaling cannot overflow.
    k = np.int16(FACTOR[what])
    lo = np.int16(INT_LOW[what])
    hi = np.int16(INT_HIGH[what])
    flo = np.int16(INT_FAHRENHEIT_LOW[what])
    fhi = np.int16(INT_FAHRENHEIT_HIGH[what])
    ustart = np.uint64(start)
    for t in range(_U0, np.uint64(n)):
        v = q[t]
        ok = scratch[R_VALID, t] != 0
        inr = (v >= lo) & (v <= hi)
        fahr = (v >= flo) & (v <= fhi)
        q16 = v if inr else np.int16(0)
        q16 = np.int16(q16 * k) if k != 1 else q16
        _measure_row(t, ustart + t, ok, True, inr, fahr, q16, spo2, sign, scratch, sub)


@helper
def _narrow(arr, base, n, out):
    """An integer column as int16, saturating. Every item's valid range lies well inside int16, so a clamped
    value is out of range (or non-zero, or not 1) exactly when the value was."""
    info = np.iinfo(arr.dtype)
    lo = arr.dtype.type(max(info.min, -32768))
    hi = arr.dtype.type(min(info.max, 32767))
    ubase = np.uint64(base)
    for t in range(_U0, np.uint64(n)):
        out[t] = np.int16(min(max(arr[ubase + t], lo), hi))


@helper
def _widen(arr, base, n, out):
    ubase = np.uint64(base)
    for t in range(_U0, np.uint64(n)):
        out[t] = np.float64(arr[ubase + t])


@helper
def _others(what, arr, start, n, scratch, sub):
    """The items that are neither measured values nor consciousness: SpO2 scale, oxygen, age, pregnancy."""
    ustart = np.uint64(start)
    un = np.uint64(n)
    if what == W_SCALE:
        for t in range(_U0, un):
            v = np.float64(arr[t])
            ok = scratch[R_VALID, t] != 0
            scratch[R_SEL, t] = np.uint8(1) if (ok and v == 2.0) else np.uint8(0)
            bad = ok and v != 1.0 and v != 2.0
            scratch[R_REJECT, t] = min(scratch[R_REJECT, t], np.uint8(SPO2_SCALE_INVALID if bad else NONE))
    elif what == W_OXY:
        for t in range(_U0, un):
            v = np.float64(arr[t])
            ok = scratch[R_VALID, t] != 0
            oxygen = ok and v == 1.0
            sub[2, ustart + t] = np.int8(-1) if not ok else (np.int8(2) if oxygen else np.int8(0))
            sel = scratch[R_SEL, t]
            scratch[R_SEL, t] = np.uint8(2) if (oxygen and sel == 1) else sel
            bad = ok and v != 1.0 and v != 0.0
            scratch[R_REJECT, t] = min(scratch[R_REJECT, t], np.uint8(ON_OXYGEN_INVALID if bad else NONE))
            scratch[R_MISSING, t] |= np.uint8(0) if ok else np.uint8(4)
    elif what == W_AGE:
        for t in range(_U0, un):
            v = np.float64(arr[t])
            ok = scratch[R_VALID, t] != 0
            bad = ok and not (v >= 0.0 and v <= 130.0)  # NaN too
            scratch[R_REJECT, t] = min(scratch[R_REJECT, t], np.uint8(AGE_OUT_OF_RANGE if bad else NONE))
            under = ok and not bad and v < 16.0
            scratch[R_NA, t] = np.uint8(UNDER_16) if under else scratch[R_NA, t]
    elif what == W_PREG:
        for t in range(_U0, un):
            v = np.float64(arr[t])
            ok = scratch[R_VALID, t] != 0
            na = scratch[R_NA, t]
            scratch[R_NA, t] = np.uint8(PREGNANT) if (ok and v != 0.0 and na == NO_REASON) else na


@serial
def _consciousness(arr, base, start, n, codes, scratch, sub):
    """Consciousness codes by look-up in `codes`; compiled per index type (a dictionary may be large)."""
    ustart = np.uint64(start)
    ubase = np.uint64(base)
    un = np.uint64(n)
    # The table look-up alone first (it cannot vectorise), then the rest in a loop that does.
    last = np.uint64(codes.size - 1)
    for t in range(_U0, un):
        # Nulls may hold any bytes: read the code table only inside it.
        j = np.uint64(arr[ubase + t]) if scratch[R_VALID, t] != 0 else _U0
        scratch[R_CODE, t] = np.uint8(codes[min(j, last)] - CONS_UNKNOWN)
    for t in range(_U0, un):
        ok = scratch[R_VALID, t] != 0
        c = np.int8(scratch[R_CODE, t]) + np.int8(CONS_UNKNOWN)
        sub[5, ustart + t] = np.int8(-1) if (not ok or c < 0) else (np.int8(0) if c == CONS_ALERT else np.int8(3))
        bad = ok and c == CONS_UNKNOWN
        scratch[R_REJECT, t] = min(scratch[R_REJECT, t], np.uint8(UNKNOWN_CONSCIOUSNESS if bad else NONE))
        scratch[R_MISSING, t] |= np.uint8(32) if (not ok or c == CONS_NULL) else np.uint8(0)


@serial
def _float_items(what, x, is_f32, start, n, scratch, sub):
    """One item from a float column (widened to float64) over the block's n rows from `start`. One loop per item:
    the choice is made once per call, never per row. Compiled once: every float type is widened first."""
    if what == W_SPO2:
        _float_loop(x, 0, is_f32, start, n, scratch, sub, True, what)
    elif what <= W_TEMP:
        _float_loop(x, 0, is_f32, start, n, scratch, sub, False, what)
    else:
        _others(what, x, start, n, scratch, sub)


@serial
def _int_items(what, q, start, n, scratch, sub):
    """_float_items for integer and boolean columns, narrowed to int16."""
    if what == W_SPO2:
        _int_loop(q, start, n, scratch, sub, True, what)
    elif what <= W_TEMP:
        _int_loop(q, start, n, scratch, sub, False, what)
    else:
        _others(what, q, start, n, scratch, sub)


@serial
def _pass(what, col, start, n, codes, scratch, q16, x64, sub):
    kind = col[0]
    data = col[1]
    _expand(col[3], col[4], start, n, scratch[R_VALID])
    if kind == ABSENT:
        if what <= W_TEMP or what == W_OXY or what == W_CONS:
            # An absent required item is a missing one.
            slot = SLOT[what] if what <= W_TEMP else (2 if what == W_OXY else 5)
            bit = np.uint8(1 << slot)
            uslot = np.uint64(slot)
            ustart = np.uint64(start)
            for t in range(_U0, np.uint64(n)):
                sub[uslot, ustart + t] = -1
                scratch[R_MISSING, t] |= bit
        return
    if what == W_CONS:
        # Dictionary indices (any integer type) or the codes of a plain string column (int8); float64 only for
        # a column of nulls.
        if kind == I8:
            _consciousness(data.view(np.int8), start, start, n, codes, scratch, sub)
        elif kind == I16:
            _consciousness(data.view(np.int16), start, start, n, codes, scratch, sub)
        elif kind == I32:
            _consciousness(data.view(np.int32), start, start, n, codes, scratch, sub)
        elif kind == I64:
            _consciousness(data.view(np.int64), start, start, n, codes, scratch, sub)
        else:
            _consciousness(data.view(np.float64), start, start, n, codes, scratch, sub)
        return
    if kind == F64 or kind == F32:
        if kind == F64:
            _widen(data.view(np.float64), start, n, x64)
        else:
            _widen(data.view(np.float32), start, n, x64)
        _float_items(what, x64, kind == F32, start, n, scratch, sub)
        return
    if kind == I64:
        _narrow(data.view(np.int64), start, n, q16)
    elif kind == I32:
        _narrow(data.view(np.int32), start, n, q16)
    elif kind == I16:
        _narrow(data.view(np.int16), start, n, q16)
    elif kind == I8:
        _narrow(data.view(np.int8), start, n, q16)
    else:  # BOOL
        _expand(data, col[2], start, n, scratch[R_BOOL])
        _narrow(scratch[R_BOOL], 0, n, q16)
    _int_items(what, q16, start, n, scratch, sub)


@serial
def _finish(start, n, pid_bits, pid_off, scratch, sub, sub_valid, total, band, missing, monitoring, reject,
            na_reason, bm):
    """Reject, not-applicable and scored rows; totals, bands and every validity bitmap. start is a multiple of 8,
    so the bitmap bytes written here belong to these rows alone.

    Each loop writes one output array at most: LLVM vectorises a loop only when it can check at run time that its
    arrays do not overlap, and gives up when there are many of them (a loop writing nine arrays ran ten times
    slower than these together).
    """
    ustart = np.uint64(start)
    un = np.uint64(n)
    _expand(pid_bits, pid_off, start, n, scratch[R_VALID])
    for t in range(_U0, un):
        m = scratch[R_MISSING, t]
        r = scratch[R_REJECT, t]
        r = r if scratch[R_VALID, t] != 0 else np.uint8(MISSING_PATIENT_ID)
        r = np.uint8(NO_VITAL_SIGNS) if ((r == NONE) & (m == ALL_MISSING)) else r
        rejected = r != NONE
        has_na = scratch[R_NA, t] != NO_REASON
        scored = (rejected | has_na) == False  # noqa: E712 (a select, not a branch)
        not_applicable = has_na & (rejected == False)  # noqa: E712
        f = F_REJECT if rejected else F_APPLICABLE_VALID
        f |= F_NA if not_applicable else np.uint8(0)
        f |= (F_SCORED | F_APPLICABLE | (F_COMPLETE if m == 0 else F_MISSING)) if scored else np.uint8(0)
        scratch[R_FLAGS, t] = f
        scratch[R_REJECT, t] = r
        scratch[R_SUB_VALID, t] = 0
        scratch[R_TOTAL, t] = 0
        scratch[R_RED, t] = 0
    for t in range(_U0, un):
        reject[ustart + t] = np.int8(scratch[R_REJECT, t]) if (scratch[R_FLAGS, t] & F_REJECT) else np.int8(0)
    for t in range(_U0, un):
        na_reason[ustart + t] = np.int8(scratch[R_NA, t]) if (scratch[R_FLAGS, t] & F_NA) else np.int8(0)
    for t in range(_U0, un):
        missing[ustart + t] = np.int8(scratch[R_MISSING, t]) if (scratch[R_FLAGS, t] & F_SCORED) else np.int8(0)
    # Sub-scores one at a time: validity bit, the value (0 where invalid), the running total and the red flag.
    for k in range(7):
        uk = np.uint64(k)
        bit = np.uint8(1 << k)
        can_be_red = k != 2  # air or oxygen scores 2 at most
        for t in range(_U0, un):
            scored = (scratch[R_FLAGS, t] & F_SCORED) != 0
            p = sub[uk, ustart + t]
            good = scored & (p >= 0)
            p = p if good else np.int8(0)
            sub[uk, ustart + t] = p
            scratch[R_SUB_VALID, t] |= bit if good else np.uint8(0)
            scratch[R_TOTAL, t] += np.uint8(p)
            scratch[R_RED, t] |= np.uint8(1) if (can_be_red & (p == 3)) else np.uint8(0)
    for t in range(_U0, un):
        tot = scratch[R_TOTAL, t]
        red = scratch[R_RED, t] != 0
        # Band, by precedence: total >= 7 HIGH, >= 5 MEDIUM, a single 3 LOW_MEDIUM, >= 1 LOW, else ZERO.
        b = np.uint8(4) if tot >= 7 else (np.uint8(3) if tot >= 5 else (np.uint8(2) if red else (
            np.uint8(1) if tot >= 1 else np.uint8(0))))
        scratch[R_BAND, t] = b
        scratch[R_FLAGS, t] |= F_RED if red else np.uint8(0)
    for t in range(_U0, un):
        total[ustart + t] = np.int8(scratch[R_TOTAL, t])
    for t in range(_U0, un):
        band[ustart + t] = np.int8(scratch[R_BAND, t])
    for t in range(_U0, un):
        b = scratch[R_BAND, t]
        monitoring[ustart + t] = np.int8(b - np.uint8(1) if b >= 3 else b)  # Chart 4 (MONITORING_OF_BAND)
    _pack(scratch[R_FLAGS], n, N_BITMAPS, start >> 3, bm)
    _pack(scratch[R_SUB_VALID], n, 7, start >> 3, sub_valid)


@serial
def _block(start, n, pid_bits, pid_off, cols, cons_codes, scratch, q16, x64, sub, sub_valid, total, band, missing,
           monitoring, reject, na_reason, bm):
    for t in range(_U0, np.uint64(n)):
        scratch[R_REJECT, t] = NONE
        scratch[R_MISSING, t] = 0
        scratch[R_SEL, t] = 0
        scratch[R_NA, t] = NO_REASON
    for w in range(PASS_ORDER.size):
        _pass(PASS_ORDER[w], cols[w], start, n, cons_codes, scratch, q16, x64, sub)
    _finish(start, n, pid_bits, pid_off, scratch, sub, sub_valid, total, band, missing, monitoring, reject,
            na_reason, bm)


# The order the column passes run in: scale and oxygen first, since the SpO2 pass needs both; age before
# pregnancy, since under 16 is the reason given when both hold.
PASS_ORDER = np.array([W_SCALE, W_OXY, W_RESP, W_SPO2, W_SBP, W_PULSE, W_CONS, W_TEMP, W_AGE, W_PREG], np.int64)
PASS_ORDER.flags.writeable = False


def scratch_for_block() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The serial kernel's working memory (it allocates nothing itself): byte rows, a column narrowed to int16,
    a column widened to float64."""
    return np.empty((N_SCRATCH, BLOCK), np.uint8), np.empty(BLOCK, np.int16), np.empty(BLOCK, np.float64)


@serial
def news2_serial(start, stop, pid_bits, pid_off, cols, cons_codes, sub, sub_valid, total, band, missing, monitoring,
                 reject, na_reason, bm, scratch, q16, x64):
    """Score rows [start, stop), start a multiple of 8: the whole batch when small, a share of the parallel
    kernel's blocks otherwise.

    `cols` holds the ten column tuples in PASS_ORDER. Block by block of BLOCK rows: column by column (a loop
    per Arrow type and item, branch-free so that it vectorises) into scratch rows that stay in L1, then row by
    row for totals and flags, and the flags packed into the bitmaps eight rows per multiply.
    """
    for s in range(start, stop, BLOCK):
        _block(s, min(BLOCK, stop - s), pid_bits, pid_off, cols, cons_codes, scratch, q16, x64, sub, sub_valid, total,
               band, missing, monitoring, reject, na_reason, bm)


@parallel
def news2_parallel(n, pid_bits, pid_off, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, cons_codes, sub, sub_valid, total,
                   band, missing, monitoring, reject, na_reason, bm):
    """news2_serial over shares of blocks in parallel, each with its own scratch; the columns come one by one (a
    parfor cannot take nested tuples)."""
    nblocks = (n + BLOCK - 1) // BLOCK
    nshares = min(nblocks, 64)
    for s in prange(nshares):
        scratch = np.empty((N_SCRATCH, BLOCK), np.uint8)
        q16 = np.empty(BLOCK, np.int16)
        x64 = np.empty(BLOCK, np.float64)
        first = nblocks * s // nshares * BLOCK
        last = min(n, nblocks * (s + 1) // nshares * BLOCK)
        news2_serial(first, last, pid_bits, pid_off, (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9), cons_codes, sub,
                     sub_valid, total, band, missing, monitoring, reject, na_reason, bm, scratch, q16, x64)


@helper
def _is_space(ch):
    return ch == 32 or (9 <= ch <= 13)


@helper
def _letter_code(ch):
    # ACVPU, either case; +2 so that the stored code indexes CONSCIOUSNESS_CODES below.
    if ch >= 97:
        ch -= 32
    if ch == 65:  # A
        return 2
    if ch == 67:  # C
        return 3
    if ch == 86:  # V
        return 4
    if ch == 80:  # P
        return 5
    if ch == 85:  # U
        return 6
    return 1


@helper
def _letter_row(i, offsets, data, valid, voff, out):
    if valid.size != 0 and _bit(valid, voff, i) == 0:
        out[i] = 0
        return
    a = offsets[i]
    b = offsets[i + 1]
    while a < b and _is_space(data[a]):
        a += 1
    while b > a and _is_space(data[b - 1]):
        b -= 1
    out[i] = _letter_code(data[a]) if b - a == 1 else 1


@parallel
def letters_parallel(offsets, data, valid, voff, out):
    """Single-letter ACVPU codes from a string column's buffers; 1 = not a single letter, 0 = null."""
    for i in prange(out.size):
        _letter_row(i, offsets, data, valid, voff, out)


@serial
def letters_serial(offsets, data, valid, voff, out):
    for i in range(out.size):
        _letter_row(i, offsets, data, valid, voff, out)


# code stored by consciousness_letters -> consciousness code the scoring kernel uses
CONSCIOUSNESS_CODES = np.array([CONS_NULL, CONS_UNKNOWN, 0, 1, 2, 3, 4], np.int8)
CONSCIOUSNESS_CODES.flags.writeable = False
