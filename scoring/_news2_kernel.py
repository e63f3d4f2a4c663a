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
    j = offset + i
    return (bits[j >> 3] >> (j & 7)) & 1


# Column slots in the per-block decode buffers.
C_RESP, C_SPO2, C_SCALE, C_OXY, C_SBP, C_PULSE, C_CONS, C_TEMP, C_AGE, C_PREG = range(10)
N_SLOTS = 10
ST_NULL, ST_OK, ST_NAN = 0, 1, 2


@serial
def _decode_values(arr, is_float, is_f32, k, valid, voff, start, stop, q, st, c):
    """Decode one typed column over rows [start, stop) into slot c: rounded value (k > 0) or raw, and status.

    Compiled once per array type; each call covers a whole block, so the type switch costs nothing per row.
    """
    for i in range(start, stop):
        j = i - start
        if valid.size != 0 and _bit(valid, voff, i) == 0:
            st[c, j] = ST_NULL
            continue
        v = np.float64(arr[i])
        if not _finite(v):
            st[c, j] = ST_NAN
            continue
        st[c, j] = ST_OK
        if k <= 0 or not is_float:
            q[c, j] = v * k if k > 0 else v
        else:
            q[c, j] = _quantise(v, is_f32, k)


@serial
def _decode_bits(bits, boff, valid, voff, start, stop, q, st, c):
    for i in range(start, stop):
        j = i - start
        if valid.size != 0 and _bit(valid, voff, i) == 0:
            st[c, j] = ST_NULL
        else:
            st[c, j] = ST_OK
            q[c, j] = np.float64(_bit(bits, boff, i))


@helper
def _decode(col, k, start, stop, q, st, c):
    kind = col[0]
    if kind == F64:
        _decode_values(col[1], True, False, k, col[9], col[10], start, stop, q, st, c)
    elif kind == F32:
        _decode_values(col[2], True, True, k, col[9], col[10], start, stop, q, st, c)
    elif kind == I64:
        _decode_values(col[3], False, False, k, col[9], col[10], start, stop, q, st, c)
    elif kind == I32:
        _decode_values(col[4], False, False, k, col[9], col[10], start, stop, q, st, c)
    elif kind == I16:
        _decode_values(col[5], False, False, k, col[9], col[10], start, stop, q, st, c)
    elif kind == I8:
        _decode_values(col[6], False, False, k, col[9], col[10], start, stop, q, st, c)
    elif kind == BOOL:
        _decode_bits(col[7], col[8], col[9], col[10], start, stop, q, st, c)
    else:
        for j in range(stop - start):
            st[c, j] = ST_NULL


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


@helper
def _set(bm, row, i):
    bm[row, i >> 3] |= np.uint8(1 << (i & 7))


@helper
def _emit(k, points, i, sub, sub_valid):
    if points < 0:
        return 0
    sub[k, i] = points
    _set(sub_valid, k, i)
    return points


@helper
def _score_row(i, j, pid_bits, pid_off, cons_codes, q, st, sub, sub_valid, total, band, missing, monitoring,
               reject, na_reason, bm):
    """Score row i from its decoded values in column j of the block buffers q (values) and st (status)."""
    rej = -1
    if pid_bits.size != 0 and _bit(pid_bits, pid_off, i) == 0:
        rej = MISSING_PATIENT_ID
    miss = 0
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = -1

    # Respiration rate
    s = st[C_RESP, j]
    if s == ST_NAN:
        if rej < 0:
            rej = RESP_RATE_NOT_A_NUMBER
    elif s == ST_OK:
        v = q[C_RESP, j]
        if v < 1 or v > 80:
            if rej < 0:
                rej = RESP_RATE_OUT_OF_RANGE
        else:
            p0 = RESP_POINTS[np.int64(v)]
    else:
        miss |= 1

    # SpO2 (scored once scale and oxygen are known)
    spo2_q = -1.0
    s = st[C_SPO2, j]
    if s == ST_NAN:
        if rej < 0:
            rej = SPO2_NOT_A_NUMBER
    elif s == ST_OK:
        spo2_q = q[C_SPO2, j]
        if spo2_q < 0 or spo2_q > 100:
            spo2_q = -1.0
            if rej < 0:
                rej = SPO2_OUT_OF_RANGE
    else:
        miss |= 2

    scale2 = False
    s = st[C_SCALE, j]
    if s != ST_NULL:
        v = q[C_SCALE, j]
        if s == ST_OK and v == 2.0:
            scale2 = True
        elif s == ST_NAN or v != 1.0:
            if rej < 0:
                rej = SPO2_SCALE_INVALID

    oxygen = False
    s = st[C_OXY, j]
    if s != ST_NULL:
        v = q[C_OXY, j]
        if s == ST_OK and v == 1.0:
            oxygen = True
        elif s == ST_NAN or v != 0.0:
            if rej < 0:
                rej = ON_OXYGEN_INVALID
        p2 = 2 if oxygen else 0
    else:
        miss |= 4

    if spo2_q >= 0:
        p1 = SPO2_POINTS[np.int64(scale2) * (1 + np.int64(oxygen)), np.int64(spo2_q)]

    # Systolic blood pressure
    s = st[C_SBP, j]
    if s == ST_NAN:
        if rej < 0:
            rej = SYSTOLIC_BP_NOT_A_NUMBER
    elif s == ST_OK:
        v = q[C_SBP, j]
        if v < 1 or v > 300:
            if rej < 0:
                rej = SYSTOLIC_BP_OUT_OF_RANGE
        else:
            p3 = SBP_POINTS[np.int64(v)]
    else:
        miss |= 8

    # Pulse
    s = st[C_PULSE, j]
    if s == ST_NAN:
        if rej < 0:
            rej = PULSE_NOT_A_NUMBER
    elif s == ST_OK:
        v = q[C_PULSE, j]
        if v < 1 or v > 300:
            if rej < 0:
                rej = PULSE_OUT_OF_RANGE
        else:
            p4 = PULSE_POINTS[np.int64(v)]
    else:
        miss |= 16

    # Consciousness (ACVPU): the decoded value is an index into cons_codes
    c = CONS_NULL
    if st[C_CONS, j] == ST_OK:
        c = cons_codes[np.int64(q[C_CONS, j])]
    if c == CONS_NULL:
        miss |= 32
    elif c == CONS_UNKNOWN:
        if rej < 0:
            rej = UNKNOWN_CONSCIOUSNESS
    else:
        p5 = 0 if c == CONS_ALERT else 3

    # Temperature, in tenths of a degree
    s = st[C_TEMP, j]
    if s == ST_NAN:
        if rej < 0:
            rej = TEMPERATURE_NOT_A_NUMBER
    elif s == ST_OK:
        v = q[C_TEMP, j]
        if v > 450 or v < 200:
            if rej < 0:
                rej = TEMPERATURE_LIKELY_FAHRENHEIT if 860 <= v <= 1130 else TEMPERATURE_OUT_OF_RANGE
        else:
            p6 = TEMP_POINTS[np.int64(v)]
    else:
        miss |= 64

    na = -1
    s = st[C_AGE, j]
    if s != ST_NULL:
        v = q[C_AGE, j]
        if s == ST_NAN or v < 0 or v > 130:
            if rej < 0:
                rej = AGE_OUT_OF_RANGE
        elif v < 16:
            na = UNDER_16
    if na < 0 and st[C_PREG, j] == ST_OK and q[C_PREG, j] != 0.0:
        na = PREGNANT

    if rej < 0 and miss == ALL_MISSING:
        rej = NO_VITAL_SIGNS

    for k in range(7):
        sub[k, i] = 0
    total[i] = 0
    band[i] = 0
    missing[i] = 0
    monitoring[i] = 0
    reject[i] = 0
    na_reason[i] = 0
    if rej >= 0:
        reject[i] = rej
        _set(bm, BM_REJECT, i)
        return
    _set(bm, BM_APPLICABLE_VALID, i)
    if na >= 0:
        na_reason[i] = na
        _set(bm, BM_NA, i)
        return
    _set(bm, BM_APPLICABLE, i)

    t = _emit(0, p0, i, sub, sub_valid) + _emit(1, p1, i, sub, sub_valid) + _emit(2, p2, i, sub, sub_valid)
    t += _emit(3, p3, i, sub, sub_valid) + _emit(4, p4, i, sub, sub_valid) + _emit(5, p5, i, sub, sub_valid)
    t += _emit(6, p6, i, sub, sub_valid)
    red = (p0 == 3) | (p1 == 3) | (p3 == 3) | (p4 == 3) | (p5 == 3) | (p6 == 3)
    b = BAND[np.int64(red), t]
    total[i] = t
    band[i] = b
    monitoring[i] = MONITORING_OF_BAND[b]
    _set(bm, BM_SCORED, i)
    bm[BM_RED, i >> 3] |= np.uint8(np.int64(red) << (i & 7))
    if miss == 0:
        _set(bm, BM_COMPLETE, i)
    else:
        missing[i] = miss
        _set(bm, BM_MISSING, i)


@serial
def news2_serial(start, stop, pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse, cons, cons_codes, temp, age,
                 preg, sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm, q, st):
    """Score rows [start, stop): the whole batch when small, one block of the parallel kernel otherwise.

    Each column is first decoded for the whole range into q/st (a tight loop per Arrow type), then the rows are
    scored from those buffers, which stay in cache for a block.
    """
    _decode(resp, 1.0, start, stop, q, st, C_RESP)
    _decode(spo2, 1.0, start, stop, q, st, C_SPO2)
    _decode(scale, 0.0, start, stop, q, st, C_SCALE)
    _decode(oxy, 0.0, start, stop, q, st, C_OXY)
    _decode(sbp, 1.0, start, stop, q, st, C_SBP)
    _decode(pulse, 1.0, start, stop, q, st, C_PULSE)
    _decode(cons, 0.0, start, stop, q, st, C_CONS)
    _decode(temp, 10.0, start, stop, q, st, C_TEMP)
    _decode(age, 0.0, start, stop, q, st, C_AGE)
    _decode(preg, 0.0, start, stop, q, st, C_PREG)
    _score_rows(start, stop, pid_bits, pid_off, cons_codes, q, st, sub, sub_valid, total, band, missing,
                monitoring, reject, na_reason, bm)


@serial
def _score_rows(start, stop, pid_bits, pid_off, cons_codes, q, st, sub, sub_valid, total, band, missing,
                monitoring, reject, na_reason, bm):
    # Apart from the decode so that LLVM sees plain arrays here, not the column tuples.
    for i in range(start, stop):
        _score_row(i, i - start, pid_bits, pid_off, cons_codes, q, st, sub, sub_valid, total, band, missing,
                   monitoring, reject, na_reason, bm)


@parallel
def news2_parallel(n, pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse, cons, cons_codes, temp, age, preg,
                   sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm):
    nblocks = (n + BLOCK - 1) // BLOCK
    # Each block owns rows [b*BLOCK, (b+1)*BLOCK) and, since BLOCK % 8 == 0, the bitmap bytes of those rows;
    # its decode buffers are its own too.
    for b in prange(nblocks):
        q = np.empty((N_SLOTS, BLOCK), np.float64)
        st = np.empty((N_SLOTS, BLOCK), np.int8)
        news2_serial(b * BLOCK, min(n, (b + 1) * BLOCK), pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse,
                     cons, cons_codes, temp, age, preg, sub, sub_valid, total, band, missing, monitoring, reject,
                     na_reason, bm, q, st)


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
