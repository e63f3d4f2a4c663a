"""What every speed benchmark here needs: timed calls with the collector out of them, how busy the machine was,
and a line naming the machine and the package versions for RESULTS.md."""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def time_runs(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall times of `repeat` calls; the collector runs between calls, never inside one."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return times


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process and its children): the difference over
    a run tells a busy machine apart."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(fields[:3]) + fields[5] + fields[6]) / os.sysconf("SC_CLK_TCK")  # user nice system irq softirq
    except (OSError, ValueError, IndexError):
        busy = float("nan")
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


def cpu_and_ram() -> tuple[str, str]:
    """The CPU's model name and the RAM, as /proc says them ("unknown CPU", "?" where it cannot be read)."""
    cpu, ram = "unknown CPU", "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
        ram = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return cpu, ram


def machine_line(packages: tuple[str, ...]) -> str:
    """CPU, cores, RAM, Python and the versions of those of `packages` that are installed."""
    cpu, ram = cpu_and_ram()
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return f"{cpu}, {os.cpu_count()} cores, {ram} RAM; Python {platform.python_version()}, {', '.join(versions)}"
