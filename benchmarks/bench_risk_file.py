"""`varde risk` Parquet -> Parquet for all of Norway (5.5M listed patients), against pyarrow reading and writing the
same file, with each run's peak memory.

Targets (targets.md and the risk issue): the whole population scored in under a minute end to end (targets.md:
under 10 s), peak RSS under 4 GiB. Each run is a fresh process (start-up and loading the cached kernels included).

    python benchmarks/bench_risk_file.py [--patients 5500000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _risk_data import generate  # noqa: E402

_COPY = """
import sys, pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1], pre_buffer=False)
w = None
for b in f.iter_batches(batch_size=1 << 18):
    if w is None:
        w = pq.ParquetWriter(sys.argv[2], b.schema, compression="zstd")
    w.write_batch(b)
w.close()
"""


_MAKE = """
import sys
import pyarrow.parquet as pq
from bench_risk_file import extract
pq.write_table(extract(int(sys.argv[2])), sys.argv[1], row_group_size=1 << 18, compression="zstd")
"""


def run(cmd: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()}")
    proc.stderr.close()
    return elapsed, usage.ru_maxrss / 1024


def extract(n: int, seed: int = 0) -> pa.Table:
    """The benchmark's ICD-10 and ATC lists plus what a journal extract holds besides: ages, counts, follow-up."""
    base = generate(n, seed)
    rng = np.random.default_rng(seed + 1)
    cols = {name: base.column(name) for name in base.column_names}
    cols["age"] = pa.array(np.clip(rng.normal(45, 22, n), 0, 105).astype(np.int16))
    cols["admissions_12m"] = pa.array(rng.poisson(0.15, n).astype(np.int16))
    cols["emergency_visits_12m"] = pa.array(rng.poisson(0.3, n).astype(np.int16))
    cols["gp_contacts_12m"] = pa.array(rng.poisson(4, n).astype(np.int16))
    cols["has_coordinator"] = pa.array(rng.random(n) < 0.02)
    cols["lives_alone"] = pa.array(rng.random(n) < 0.18)
    return pa.table(cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=5_500_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "extract.parquet")
        t = time.perf_counter()
        # Made in a child process: Linux carries a parent's peak RSS into the children it forks, which would hide
        # the runs' own peaks behind the generator's.
        subprocess.run([sys.executable, "-c", _MAKE, src, str(args.patients)], check=True,
                       cwd=os.path.dirname(os.path.abspath(__file__)))
        print(f"# {args.patients:,} patients, {os.path.getsize(src) / 2**20:.0f} MiB Parquet "
              f"(made in {time.perf_counter() - t:.0f} s); {os.cpu_count()} cores")
        varde = [sys.executable, "-m", "varde", "risk", src, "-o", os.path.join(tmp, "risk.parquet"), "-q",
                 "--no-progress", "--as-of", "2026-11-23"]
        copy = [sys.executable, "-c", _COPY, src, os.path.join(tmp, "copy.parquet")]
        results = {}
        for name, cmd in (("pyarrow read + write", copy), ("varde risk", varde)):
            runs = [run(cmd) for _ in range(args.repeat)]
            results[name] = (min(r[0] for r in runs), max(r[1] for r in runs))
        base = results["pyarrow read + write"][0]
        print(f"{'':<24}{'best s':>10}{'ratio':>10}{'peak RSS MiB':>14}")
        for name, (secs, rss) in results.items():
            print(f"{name:<24}{secs:>10.2f}{secs / base:>9.2f}x{rss:>14,.0f}")


if __name__ == "__main__":
    main()
