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
from .arrow import BOOL, F32, F64, I8, I16, I32, I64

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
def _finite(v):
    return v == v and v != np.inf and v != -np.inf


@helper
def _quantise(v, is_f32, k):
    """Round v to the chart's resolution 1/k, half away from zero, as the sender meant it.

    A value counts as a half-way point when it is the nearest number of its own type to that decimal point:
    float32 35.05 is 35.0499992 and must round to 35.1. Integers are exact.
    """
    a = abs(v)
    n = np.floor(a * k)
    half = (n + 0.5) / k
    if is_f32:
        half = np.float64(np.float32(half))
    n += np.float64(a >= half)  # arithmetic, not a branch: this comparison is a coin toss on real data
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


# Points tables, built once from the chart's thresholds above and indexed by the rounded value: a lookup has no
# branch to mispredict, and real observations scatter across bands enough that branches cost most of the time.
RESP_POINTS = np.array([_resp_points(q) for q in range(81)], np.int8)  # valid 1-80
SPO2_POINTS = np.array(
    [[_spo2_points(q, s2, o2) for q in range(101)] for s2, o2 in ((False, False), (True, False), (True, True))],
    np.int8,
)  # rows: scale 1 (air or oxygen alike), scale 2 on air, scale 2 on oxygen
SBP_POINTS = np.array([_sbp_points(q) for q in range(301)], np.int8)  # valid 1-300
PULSE_POINTS = np.array([_pulse_points(q) for q in range(301)], np.int8)  # valid 1-300
TEMP_POINTS = np.array([_temp_points(q) for q in range(451)], np.int8)  # tenths, valid 200-450
# Band by (red, total): precedence total >= 7 HIGH, >= 5 MEDIUM, a single 3 LOW_MEDIUM, >= 1 LOW, else ZERO.
BAND = np.array([[4 if t >= 7 else 3 if t >= 5 else 2 if red else 1 if t >= 1 else 0 for t in range(21)]
                 for red in (0, 1)], np.int8)
# Chart 4: ZERO 12-hourly, LOW 4-6-hourly, LOW_MEDIUM and MEDIUM 1-hourly, HIGH continuous.
MONITORING_OF_BAND = np.array([0, 1, 2, 2, 3], np.int8)
for _t in (RESP_POINTS, SPO2_POINTS, SBP_POINTS, PULSE_POINTS, TEMP_POINTS, BAND, MONITORING_OF_BAND):
    _t.flags.writeable = False


NONE = 127  # no reject yet: reject codes are priorities, so a row keeps the smallest it meets

# What a column pass computes. The first five are the measured vital signs and index MEASURE_TABLES.
W_RESP, W_SPO2, W_SBP, W_PULSE, W_TEMP, W_SCALE, W_OXY, W_CONS, W_AGE, W_PREG = range(10)
# For each measured sign: its slot in `sub` (chart order), resolution factor, valid range on the rounded value,
# and reject codes.
SLOT = np.array([0, 1, 3, 4, 6], np.int64)
FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 10.0])
LOW = np.array([1.0, 0.0, 1.0, 1.0, 200.0])
HIGH = np.array([80.0, 100.0, 300.0, 300.0, 450.0])
NAN_CODE = np.array([RESP_RATE_NOT_A_NUMBER, SPO2_NOT_A_NUMBER, SYSTOLIC_BP_NOT_A_NUMBER, PULSE_NOT_A_NUMBER,
                     TEMPERATURE_NOT_A_NUMBER], np.int8)
RANGE_CODE = np.array([RESP_RATE_OUT_OF_RANGE, SPO2_OUT_OF_RANGE, SYSTOLIC_BP_OUT_OF_RANGE, PULSE_OUT_OF_RANGE,
                       TEMPERATURE_OUT_OF_RANGE], np.int8)
# One table per measured sign, padded to one shape; row = SpO2 selector (only SpO2 has more than one row).
MEASURE_TABLES = np.zeros((5, 3, 451), np.int8)
MEASURE_TABLES[W_RESP, :, :81] = RESP_POINTS
MEASURE_TABLES[W_SPO2, :, :101] = SPO2_POINTS
MEASURE_TABLES[W_SBP, :, :301] = SBP_POINTS
MEASURE_TABLES[W_PULSE, :, :301] = PULSE_POINTS
MEASURE_TABLES[W_TEMP, :, :451] = TEMP_POINTS
for _t in (SLOT, FACTOR, LOW, HIGH, NAN_CODE, RANGE_CODE, MEASURE_TABLES):
    _t.flags.writeable = False


@helper
def _valid_at(valid, voff, i):
    return valid.size == 0 or _bit(valid, voff, i) == 1


@serial
def _column_pass(what, arr, is_float, is_f32, bits, boff, valid, voff, start, stop, codes, sub, reject, missing,
                 sel, na_reason):
    """Run one column over rows [start, stop); compiled once per Arrow value type.

    `what` is the same for every row of a call, so its branches are predicted and the loop stays tight.
    sel holds the SpO2 table row (0 scale 1, 1 scale 2 on air, 2 scale 2 on oxygen), filled by the scale and
    oxygen passes before the SpO2 pass reads it.
    """
    is_bits = bits.size != 0
    if what <= W_TEMP:
        slot = np.uint64(SLOT[what])
        k = FACTOR[what]
        lo = LOW[what]
        hi = HIGH[what]
        miss_bit = np.int8(1 << SLOT[what])
        for i in range(np.uint64(start), np.uint64(stop)):
            sub[slot, i] = -1
            if not _valid_at(valid, voff, i):
                missing[i] |= miss_bit
                continue
            v = np.float64(_bit(bits, boff, i)) if is_bits else np.float64(arr[i])
            if not _finite(v):
                reject[i] = min(reject[i], NAN_CODE[what])
                continue
            q = _quantise(v, is_f32, k) if is_float else v * k
            if q < lo or q > hi:
                code = RANGE_CODE[what]
                if what == W_TEMP and 860 <= q <= 1130:
                    code = TEMPERATURE_LIKELY_FAHRENHEIT
                reject[i] = min(reject[i], code)
                continue
            row = np.uint64(sel[i]) if what == W_SPO2 else np.uint64(0)
            sub[slot, i] = MEASURE_TABLES[np.uint64(what), row, np.uint64(q)]
        return
    for i in range(np.uint64(start), np.uint64(stop)):
        if not _valid_at(valid, voff, i):
            if what == W_OXY:
                sub[2, i] = -1
                missing[i] |= np.int8(4)
            elif what == W_CONS:
                sub[5, i] = -1
                missing[i] |= np.int8(32)
            continue
        v = np.float64(_bit(bits, boff, i)) if is_bits else np.float64(arr[i])
        if what == W_SCALE:
            if v == 2.0:
                sel[i] = 1
            elif v != 1.0:
                reject[i] = min(reject[i], SPO2_SCALE_INVALID)
        elif what == W_OXY:
            if v == 1.0:
                sub[2, i] = 2
                if sel[i] == 1:
                    sel[i] = 2
            else:
                sub[2, i] = 0
                if v != 0.0:
                    reject[i] = min(reject[i], ON_OXYGEN_INVALID)
        elif what == W_CONS:
            c = codes[np.uint64(v)]
            sub[5, i] = -1
            if c == CONS_NULL:
                missing[i] |= np.int8(32)
            elif c == CONS_UNKNOWN:
                reject[i] = min(reject[i], UNKNOWN_CONSCIOUSNESS)
            else:
                sub[5, i] = 0 if c == CONS_ALERT else 3
        elif what == W_AGE:
            if not _finite(v) or v < 0 or v > 130:
                reject[i] = min(reject[i], AGE_OUT_OF_RANGE)
            elif v < 16:
                na_reason[i] = UNDER_16
        elif what == W_PREG:
            if v != 0.0 and na_reason[i] < 0:
                na_reason[i] = PREGNANT


@serial
def _pass(what, col, start, stop, codes, sub, reject, missing, sel, na_reason):
    kind = col[0]
    data = col[1]
    e = data[:0]
    valid = col[3]
    voff = col[4]
    if kind == F64:
        _column_pass(what, data.view(np.float64), True, False, e, 0, valid, voff, start, stop, codes, sub, reject,
                     missing, sel, na_reason)
    elif kind == F32:
        _column_pass(what, data.view(np.float32), True, True, e, 0, valid, voff, start, stop, codes, sub, reject,
                     missing, sel, na_reason)
    elif kind == I64:
        _column_pass(what, data.view(np.int64), False, False, e, 0, valid, voff, start, stop, codes, sub, reject,
                     missing, sel, na_reason)
    elif kind == I32:
        _column_pass(what, data.view(np.int32), False, False, e, 0, valid, voff, start, stop, codes, sub, reject,
                     missing, sel, na_reason)
    elif kind == I16:
        _column_pass(what, data.view(np.int16), False, False, e, 0, valid, voff, start, stop, codes, sub, reject,
                     missing, sel, na_reason)
    elif kind == I8:
        _column_pass(what, data.view(np.int8), False, False, e, 0, valid, voff, start, stop, codes, sub, reject,
                     missing, sel, na_reason)
    elif kind == BOOL:
        _column_pass(what, e.view(np.int8), False, False, data, col[2], valid, voff, start, stop, codes, sub, reject,
                     missing, sel, na_reason)
    elif what <= W_TEMP or what == W_OXY or what == W_CONS:
        # An absent required item is a missing one.
        slot = SLOT[what] if what <= W_TEMP else (2 if what == W_OXY else 5)
        bit = np.int8(1 << slot)
        uslot = np.uint64(slot)
        for i in range(np.uint64(start), np.uint64(stop)):
            sub[uslot, i] = -1
            missing[i] |= bit


@serial
def _finish(start, stop, pid_bits, pid_off, sub, sub_valid, total, band, missing, monitoring, reject, na_reason,
            bm):
    """Totals, bands and every validity bitmap, eight rows (one bitmap byte) at a time.

    start is a multiple of 8, so the bytes written here belong to these rows alone.
    """
    # Unsigned indices throughout: Numba then skips negative-index wrap-around, which blocks vectorisation.
    ustop = np.uint64(stop)
    for byte in range(np.uint64(start >> 3), np.uint64((stop + 7) >> 3)):
        v0 = v1 = v2 = v3 = v4 = v5 = v6 = 0
        scored = red_bits = complete = miss_valid = app_valid = app = na_bits = rej_bits = 0
        for t in range(8):
            i = (byte << np.uint64(3)) + np.uint64(t)
            if i >= ustop:
                break
            rej = reject[i]
            if pid_bits.size != 0 and _bit(pid_bits, pid_off, i) == 0:
                rej = MISSING_PATIENT_ID
            m = missing[i]
            if rej == NONE and m == ALL_MISSING:
                rej = NO_VITAL_SIGNS
            na = na_reason[i]
            total[i] = 0
            band[i] = 0
            monitoring[i] = 0
            missing[i] = 0
            reject[i] = 0
            na_reason[i] = 0
            if rej != NONE:
                for k in range(7):
                    sub[k, i] = 0
                reject[i] = rej
                rej_bits |= 1 << t
                continue
            app_valid |= 1 << t
            if na >= 0:
                for k in range(7):
                    sub[k, i] = 0
                na_reason[i] = na
                na_bits |= 1 << t
                continue
            app |= 1 << t
            p0 = sub[0, i]
            p1 = sub[1, i]
            p2 = sub[2, i]
            p3 = sub[3, i]
            p4 = sub[4, i]
            p5 = sub[5, i]
            p6 = sub[6, i]
            v0 |= (p0 >= 0) << t
            v1 |= (p1 >= 0) << t
            v2 |= (p2 >= 0) << t
            v3 |= (p3 >= 0) << t
            v4 |= (p4 >= 0) << t
            v5 |= (p5 >= 0) << t
            v6 |= (p6 >= 0) << t
            p0 = max(p0, 0)
            p1 = max(p1, 0)
            p2 = max(p2, 0)
            p3 = max(p3, 0)
            p4 = max(p4, 0)
            p5 = max(p5, 0)
            p6 = max(p6, 0)
            sub[0, i] = p0
            sub[1, i] = p1
            sub[2, i] = p2
            sub[3, i] = p3
            sub[4, i] = p4
            sub[5, i] = p5
            sub[6, i] = p6
            tot = np.int64(p0) + p1 + p2 + p3 + p4 + p5 + p6
            red = (p0 == 3) | (p1 == 3) | (p3 == 3) | (p4 == 3) | (p5 == 3) | (p6 == 3)
            b = BAND[np.uint64(red), np.uint64(tot)]
            total[i] = tot
            band[i] = b
            monitoring[i] = MONITORING_OF_BAND[np.uint64(b)]
            missing[i] = m
            scored |= 1 << t
            red_bits |= np.int64(red) << t
            complete |= (m == 0) << t
            miss_valid |= (m != 0) << t
        sub_valid[0, byte] = v0
        sub_valid[1, byte] = v1
        sub_valid[2, byte] = v2
        sub_valid[3, byte] = v3
        sub_valid[4, byte] = v4
        sub_valid[5, byte] = v5
        sub_valid[6, byte] = v6
        bm[BM_SCORED, byte] = scored
        bm[BM_RED, byte] = red_bits
        bm[BM_COMPLETE, byte] = complete
        bm[BM_MISSING, byte] = miss_valid
        bm[BM_APPLICABLE_VALID, byte] = app_valid
        bm[BM_APPLICABLE, byte] = app
        bm[BM_NA, byte] = na_bits
        bm[BM_REJECT, byte] = rej_bits


# The order the column passes run in: scale and oxygen first, since the SpO2 pass needs both.
PASS_ORDER = np.array([W_SCALE, W_OXY, W_RESP, W_SPO2, W_SBP, W_PULSE, W_CONS, W_TEMP, W_AGE, W_PREG], np.int64)
PASS_ORDER.flags.writeable = False


@serial
def news2_serial(start, stop, pid_bits, pid_off, cols, cons_codes, sub, sub_valid, total, band, missing, monitoring,
                 reject, na_reason, bm):
    """Score rows [start, stop): the whole batch when small, one block of the parallel kernel otherwise.

    `cols` holds the ten column tuples in PASS_ORDER. Column by column (a tight loop per Arrow type), then row
    by row for totals and bitmaps. Output arrays double as scratch until the last pass: `band` holds the SpO2
    table selector, `reject` the best code so far. One call site for all passes keeps the compile short.
    """
    for i in range(np.uint64(start), np.uint64(stop)):
        reject[i] = NONE
        missing[i] = 0
        band[i] = 0
        na_reason[i] = -1
    for w in range(PASS_ORDER.size):
        _pass(PASS_ORDER[w], cols[w], start, stop, cons_codes, sub, reject, missing, band, na_reason)
    _finish(start, stop, pid_bits, pid_off, sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm)


@parallel
def news2_parallel(n, pid_bits, pid_off, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, cons_codes, sub, sub_valid, total,
                   band, missing, monitoring, reject, na_reason, bm):
    """news2_serial over blocks in parallel; the columns come one by one (a parfor cannot take nested tuples)."""
    nblocks = (n + BLOCK - 1) // BLOCK
    # Each block owns rows [b*BLOCK, (b+1)*BLOCK) and, since BLOCK % 8 == 0, the bitmap bytes of those rows.
    for b in prange(nblocks):
        news2_serial(b * BLOCK, min(n, (b + 1) * BLOCK), pid_bits, pid_off, (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9),
                     cons_codes, sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm)


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
