"""`varde serve` sets glibc's thresholds so that megabyte messages come from the heap and stay there."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from varde.server._malloc import tune_allocator

_PROBE = """
import ctypes, sys
libc = ctypes.CDLL("libc.so.6")
libc.sbrk.restype = ctypes.c_void_p
libc.sbrk.argtypes = (ctypes.c_long,)
if sys.argv[1] == "tuned":
    from varde.server._malloc import tune_allocator
    assert tune_allocator()
before = libc.sbrk(0)
held = bytearray(8 << 20)  # a ScoreBatches request's size, twice
print((libc.sbrk(0) - before) >> 20)
"""


def _heap_growth_mib(mode: str, where) -> int:
    # Run outside the checkout: from its root, `import varde` would find the source folder, not the install. And
    # without the allocator settings of this process: dask's LocalCluster (tests/engines) leaves
    # MALLOC_TRIM_THRESHOLD_ in os.environ, and an operator's setting makes tune_allocator stand back.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, cwd=where, env=env)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_large_message_comes_from_the_heap_once_tuned(tmp_path):
    # A fresh process maps an 8 MiB block on its own (the heap's end does not move); tuned, the heap grows by it.
    assert _heap_growth_mib("default", tmp_path) == 0
    assert _heap_growth_mib("tuned", tmp_path) >= 8


@pytest.mark.parametrize("name", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"])
def test_an_operators_own_setting_wins(name):
    assert tune_allocator({name: "1"}) is False
