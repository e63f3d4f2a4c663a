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
from .arrow import ABSENT, BOOL, F32, F64, I8, I16, I32, I64

BLOCK = 4096

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


@helper
def _is_valid(col, i):
    if col[0] == ABSENT:
        return False
    if col[9].size == 0:
        return True
    return _bit(col[9], col[10], i) == 1


@helper
def _value(col, i):
    kind = col[0]
    if kind == F64:
        return col[1][i]
    elif kind == F32:
        return np.float64(col[2][i])
    elif kind == I64:
        return np.float64(col[3][i])
    elif kind == I32:
        return np.float64(col[4][i])
    elif kind == I16:
        return np.float64(col[5][i])
    elif kind == I8:
        return np.float64(col[6][i])
    return np.float64(_bit(col[7], col[8], i))


@helper
def _finite(v):
    return v == v and v != np.inf and v != -np.inf


@helper
def _quantise(v, kind, k):
    """Round v to the chart's resolution 1/k, half away from zero, as the sender meant it.

    A value counts as a half-way point when it is the nearest number of its own type to that decimal point:
    float32 35.05 is 35.0499992 and must round to 35.1. Integers are exact.
    """
    if kind != F64 and kind != F32:
        return v * k
    a = abs(v)
    n = np.floor(a * k)
    half = (n + 0.5) / k
    if kind == F32:
        half = np.float64(np.float32(half))
    if a >= half:
        n += 1.0
    return n if v >= 0 else -n


@helper
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


@helper
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


@helper
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


@helper
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


@helper
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
def _score_row(i, pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse, cons, cons_codes, temp, age, preg,
               sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm):
    rej = -1
    if pid_bits.size != 0 and _bit(pid_bits, pid_off, i) == 0:
        rej = MISSING_PATIENT_ID
    miss = 0
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = -1

    # Respiration rate
    if _is_valid(resp, i):
        v = _value(resp, i)
        if not _finite(v):
            if rej < 0:
                rej = RESP_RATE_NOT_A_NUMBER
        else:
            q = _quantise(v, resp[0], 1.0)
            if q < 1 or q > 80:
                if rej < 0:
                    rej = RESP_RATE_OUT_OF_RANGE
            else:
                p0 = _resp_points(q)
    else:
        miss |= 1

    # SpO2 (scored once scale and oxygen are known)
    spo2_q = -1.0
    if _is_valid(spo2, i):
        v = _value(spo2, i)
        if not _finite(v):
            if rej < 0:
                rej = SPO2_NOT_A_NUMBER
        else:
            spo2_q = _quantise(v, spo2[0], 1.0)
            if spo2_q < 0 or spo2_q > 100:
                spo2_q = -1.0
                if rej < 0:
                    rej = SPO2_OUT_OF_RANGE
    else:
        miss |= 2

    scale2 = False
    if _is_valid(scale, i):
        v = _value(scale, i)
        if v == 2.0:
            scale2 = True
        elif v != 1.0:
            if rej < 0:
                rej = SPO2_SCALE_INVALID

    oxygen = False
    if _is_valid(oxy, i):
        v = _value(oxy, i)
        if v == 1.0:
            oxygen = True
        elif v != 0.0:
            if rej < 0:
                rej = ON_OXYGEN_INVALID
        p2 = 2 if oxygen else 0
    else:
        miss |= 4

    if spo2_q >= 0:
        p1 = _spo2_points(spo2_q, scale2, oxygen)

    # Systolic blood pressure
    if _is_valid(sbp, i):
        v = _value(sbp, i)
        if not _finite(v):
            if rej < 0:
                rej = SYSTOLIC_BP_NOT_A_NUMBER
        else:
            q = _quantise(v, sbp[0], 1.0)
            if q < 1 or q > 300:
                if rej < 0:
                    rej = SYSTOLIC_BP_OUT_OF_RANGE
            else:
                p3 = _sbp_points(q)
    else:
        miss |= 8

    # Pulse
    if _is_valid(pulse, i):
        v = _value(pulse, i)
        if not _finite(v):
            if rej < 0:
                rej = PULSE_NOT_A_NUMBER
        else:
            q = _quantise(v, pulse[0], 1.0)
            if q < 1 or q > 300:
                if rej < 0:
                    rej = PULSE_OUT_OF_RANGE
            else:
                p4 = _pulse_points(q)
    else:
        miss |= 16

    # Consciousness (ACVPU)
    c = CONS_NULL
    if _is_valid(cons, i):
        c = cons_codes[np.int64(_value(cons, i))]
    if c == CONS_NULL:
        miss |= 32
    elif c == CONS_UNKNOWN:
        if rej < 0:
            rej = UNKNOWN_CONSCIOUSNESS
    else:
        p5 = 0 if c == CONS_ALERT else 3

    # Temperature, in tenths of a degree
    if _is_valid(temp, i):
        v = _value(temp, i)
        if not _finite(v):
            if rej < 0:
                rej = TEMPERATURE_NOT_A_NUMBER
        else:
            q = _quantise(v, temp[0], 10.0)
            if q > 450 or q < 200:
                if rej < 0:
                    rej = TEMPERATURE_LIKELY_FAHRENHEIT if 860 <= q <= 1130 else TEMPERATURE_OUT_OF_RANGE
            else:
                p6 = _temp_points(q)
    else:
        miss |= 64

    na = -1
    if _is_valid(age, i):
        v = _value(age, i)
        if not _finite(v) or v < 0 or v > 130:
            if rej < 0:
                rej = AGE_OUT_OF_RANGE
        elif v < 16:
            na = UNDER_16
    if na < 0 and _is_valid(preg, i) and _value(preg, i) != 0.0:
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
    red = p0 == 3 or p1 == 3 or p3 == 3 or p4 == 3 or p5 == 3 or p6 == 3
    if t >= 7:
        b = 4
    elif t >= 5:
        b = 3
    elif red:
        b = 2
    elif t >= 1:
        b = 1
    else:
        b = 0
    total[i] = t
    band[i] = b
    # Chart 4: ZERO 12-hourly, LOW 4-6-hourly, LOW_MEDIUM and MEDIUM 1-hourly, HIGH continuous.
    monitoring[i] = b if b < 3 else b - 1
    _set(bm, BM_SCORED, i)
    if red:
        _set(bm, BM_RED, i)
    if miss == 0:
        _set(bm, BM_COMPLETE, i)
    else:
        missing[i] = miss
        _set(bm, BM_MISSING, i)


@parallel
def news2_parallel(n, pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse, cons, cons_codes, temp, age, preg,
                   sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm):
    nblocks = (n + BLOCK - 1) // BLOCK
    # Each block owns rows [b*BLOCK, (b+1)*BLOCK) and, since BLOCK % 8 == 0, the bitmap bytes of those rows.
    for b in prange(nblocks):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            _score_row(i, pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse, cons, cons_codes, temp, age,
                       preg, sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm)


@serial
def news2_serial(n, pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse, cons, cons_codes, temp, age, preg,
                 sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm):
    for i in range(n):
        _score_row(i, pid_bits, pid_off, resp, spo2, scale, oxy, sbp, pulse, cons, cons_codes, temp, age,
                   preg, sub, sub_valid, total, band, missing, monitoring, reject, na_reason, bm)


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
