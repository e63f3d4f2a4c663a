"""The one place that sets Numba options, so that every kernel is compiled the same way.

Kernels run on gRPC worker threads: `nogil` lets two batches score on two cores, and `cache` keeps the compiled
code on disk so a restarted server loads it instead of compiling. No `fastmath`: it lets LLVM assume there is no
NaN, and the kernels must see NaN to reject it.
"""

from __future__ import annotations

import os
import threading

# OpenMP (Numba's threading layer where libgomp is installed) lets its threads spin for a while after each parallel
# kernel, waiting for the next: ~10 ms of a core per kernel call here, taken from gRPC's threads, the client and the
# Parquet writer on a 2-core machine. Passive threads sleep at once; a kernel call takes as long (measured). Set
# before Numba loads OpenMP, which reads it once; an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402

__all__ = ["PARALLEL_LOCK", "cold", "helper", "parallel", "prange", "serial"]

_OPTIONS = {"nogil": True, "cache": True, "error_model": "numpy", "boundscheck": False}

prange = numba.prange

# One parallel kernel at a time: each already uses every core, and Numba's workqueue threading layer (the one left
# where neither OpenMP nor TBB is installed) must not be entered from several threads at once. Serial kernels
# (small batches, single observations) run concurrently, without it.
PARALLEL_LOCK = threading.Lock()


def parallel(fn):
    """A row-parallel kernel: prange bodies run on Numba's thread pool."""
    return numba.njit(parallel=True, **_OPTIONS)(fn)


def serial(fn):
    """The serial twin of a kernel, for small batches where dispatch to the thread pool costs more than it saves.

    Serial kernels only read and write arrays the caller allocated, so they run without Numba's reference
    counting: with it, every read of an array held in a column tuple was an atomic increment and decrement,
    which made the row loop fifty times slower.
    """
    return numba.njit(parallel=False, _nrt=False, **_OPTIONS)(fn)


def cold(fn):
    """A kernel's rarely taken path (a code met for the first time), compiled as a function of its own and called.
    Inlined into every loop that may take it, it tripled the risk kernels' cold compile (36 -> 102 s)."""
    return numba.njit(_nrt=False, **_OPTIONS)(fn)


def helper(fn):
    """A small function inlined into the kernel that calls it: a call per row would cost more than the work."""
    return numba.njit(inline="always", _nrt=False, **_OPTIONS)(fn)
