"""A per-thread memo of what each distinct code, byte for byte as written, was found to be.

A list of a million patients holds some thousands of distinct codes, each written many times. Reading a code
normalises it byte by byte, then looks it up; finding its raw bytes in a small open-addressing table instead
halved the ICD-10 pass (1M patients, one core: 123 -> 69 ms). The key is the code's bytes as one word, so a code
is looked up before it is read at all. Codes longer than 7 bytes are not remembered (they are read each time).

A table is a (slots, width) uint64 array, zeroed: column 0 holds the key (0: empty), the rest what the kernel
chose to remember. Each thread of a parallel kernel has its own (numba.get_thread_id()), and a serial call its own,
so no table is written by two threads. The table is filled as codes are met and is never full: a key that finds no
free slot within PROBES is simply not remembered.

What a spelling was found to be never changes while the code tables stay loaded, so a large (parallel) call
borrows the tables an earlier call with the same code table filled (`kept`): a server scoring batch after batch,
or `varde risk` over a file, reads each distinct code once per thread, not once per batch (1M patients' ICD-10:
~58,000 spellings, ~2 ms of each call). Tables more than three quarters full are made anew, so that spellings
met once long ago do not crowd out today's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import numba
import numpy as np

from .._jit import helper

__all__ = ["PROBES", "find", "home", "kept", "look_up", "pack", "raw_key", "remember", "shift_of", "tables",
           "unpack"]

PROBES = 16
MAX_BITS = 16  # 65,536 slots: the distinct codes of a national extract, written every way journals write them
_MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * 2**64 / golden ratio


def tables(n_codes: int, width: int, parallel: bool) -> np.ndarray:
    """Zeroed tables for a call over n_codes codes: one per thread of Numba's pool when parallel, else one. At most
    two slots per code (a batch of a few patients gets a small table), at least 64."""
    slots = 64
    while slots < 2 * n_codes and slots < (1 << MAX_BITS):
        slots *= 2
    count = numba.config.NUMBA_NUM_THREADS if parallel else 1
    return np.zeros((count, slots, width), np.uint64)


_KEPT: dict = {}
_KEPT_LOCK = threading.Lock()


@contextlib.contextmanager
def kept(key: tuple, make: Callable[[], np.ndarray | tuple]) -> Iterator[np.ndarray | tuple]:
    """The memos (one per thread) last given back under key, or new ones from make(). A caller has them to
    itself: a second caller at the same time gets new ones, and only one set is kept. Put the code table objects
    themselves in key, so that they outlive what was filled from them. make() may return a tuple whose first item
    is the memos and the rest what their words refer to (polypharmacy's substance ids), kept with them."""
    with _KEPT_LOCK:
        got = _KEPT.pop(key, None)
    memos = got[0] if isinstance(got, tuple) else got  # a tuple: the memos, then what their words refer to
    keys = None if got is None else memos[:, ::8, 0]  # every 8th slot tells how full: counting all took 0.2 ms
    if keys is None or np.count_nonzero(keys) * 4 > keys.size * 3:
        got = make()
    try:
        yield got
    finally:
        with _KEPT_LOCK:
            _KEPT.setdefault(key, got)


@helper
def _load8(data, b):
    """data[b:b + 8] as one little-endian word. Unsigned indices: no negative-index fix-up per byte, so LLVM merges
    the eight loads into one."""
    u = np.uint64(b)
    return (np.uint64(data[u]) | (np.uint64(data[u + np.uint64(1)]) << np.uint64(8))
            | (np.uint64(data[u + np.uint64(2)]) << np.uint64(16))
            | (np.uint64(data[u + np.uint64(3)]) << np.uint64(24))
            | (np.uint64(data[u + np.uint64(4)]) << np.uint64(32))
            | (np.uint64(data[u + np.uint64(5)]) << np.uint64(40))
            | (np.uint64(data[u + np.uint64(6)]) << np.uint64(48))
            | (np.uint64(data[u + np.uint64(7)]) << np.uint64(56)))


@helper
def raw_key(data, start, end):
    """The bytes of data[start:end] with a 1 bit just above them, so that "A" and "A\\0" differ; 0 if the code is
    longer than 7 bytes or too near the end of the buffer to read 8 bytes at once."""
    length = end - start
    if length > 7 or start + 8 > data.shape[0]:
        return np.uint64(0)
    top = np.uint64(1) << np.uint64(8 * length)
    return (_load8(data, start) & (top - np.uint64(1))) | top


@helper
def shift_of(table):
    """64 - log2(slots): the hash is the top bits of the product."""
    bits = 0
    while (1 << bits) < table.shape[0]:
        bits += 1
    return np.uint64(64 - bits)


@helper
def find(table, key, shift):
    """The slot holding key (found True), or the free slot where it belongs (found False; -1: none within PROBES,
    or key 0)."""
    if key == 0:
        return False, -1
    last = np.uint64(table.shape[0] - 1)
    h = (key * _MULT) >> shift
    for _ in range(PROBES):
        k = table[h, 0]
        if k == key:
            return True, np.int64(h)
        if k == 0:
            return False, np.int64(h)
        h = (h + np.uint64(1)) & last
    return False, -1


@helper
def look_up(table, shift, data, start, end):
    """(key, found, slot) of the code in data[start:end]: find on its raw key."""
    key = raw_key(data, start, end)
    found, slot = find(table, key, shift)
    return key, found, slot


@helper
def home(flat, width, shift, data, start, end):
    """(found, index in flat of the slot's column 0) of the code in data[start:end], looked for in its home slot
    alone, where nearly every code met before is (97 % of a million patients' ICD-10 codes, 99.9 % of their ATC
    codes). flat: a table of `width` columns as one row (table.reshape(-1)), so that a slot's place is a shift, not
    a multiply by a stride kept in memory. The per-code loops look here and leave the rest (a longer probe, a first
    reading) to a pass after the loop: the probe loop and the call to the reader inside it cost registers, and made
    it a third slower even when never taken."""
    key = raw_key(data, start, end)
    at = ((key * _MULT) >> shift) * np.uint64(width)
    return (key != np.uint64(0)) & (flat[at] == key), at


@helper
def remember(table, slot, key, value):
    """Keep value (column 1) for key in the free slot find gave (slot -1: not remembered)."""
    if slot >= 0:
        table[slot, 0] = key
        table[slot, 1] = value


@helper
def pack(outcome, found):
    """An outcome (below 8) and a group mask (below 2**61) in one word."""
    return found | (np.uint64(outcome) << np.uint64(61))


@helper
def unpack(value):
    """(outcome, group mask) of a packed word."""
    return np.int64(value >> np.uint64(61)), value & np.uint64((1 << 61) - 1)
