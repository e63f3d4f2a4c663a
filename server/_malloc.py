"""glibc's allocator, set for a server that receives and sends messages of megabytes.

By default glibc serves an allocation above its mmap threshold (128 KiB at first, raised as large blocks are freed)
with a fresh mapping, and gives the top of its heap back to the kernel above the trim threshold. A ScoreBatches
request is a 4 MiB message, copied by gRPC into a Python bytes object and answered with a 2 MiB one, next to
numpy result arrays of 150 KB each: every one was a new mapping and a page fault per 4 KiB page touched. Served
from the heap and kept there, the same stream took about 10 % less time (benchmarks/RESULTS.md), for about 50-100
MiB more resident memory. Only `varde serve` sets this (a process-wide choice); an operator's own MALLOC_* settings
win, and elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_allocator"]

log = logging.getLogger("varde.server")

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper bound for it on 64-bit
TRIM_THRESHOLD = 64 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h


def tune_allocator(environ=os.environ) -> bool:
    """Set glibc's mmap and trim thresholds; False where it is not glibc or the operator set them already."""
    if any(name in environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl has mallopt as a stub)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not done:
        log.warning("could not set glibc's malloc thresholds; large messages cost a page fault per page")
    return done
