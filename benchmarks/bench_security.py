"""What security costs: push latency and ScoreBatches throughput on one server setup after another, in one run.

    python benchmarks/bench_security.py --seconds 5 --rows 1000000 --markdown

Setups: plaintext with no auth (the local default); mutual TLS with a mapped client certificate; TLS with a
Bearer token (HelseID-style JWT checked against a JWKS); TLS with a DPoP-bound token (a proof signed and checked
per call). Certificates and tokens are made at run time (tests/security_support.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._data import generate  # noqa: E402
from tests.security_support import DPoPKey  # noqa: E402
from tests.server.secured import Secured  # noqa: E402
from tests.support import Running  # noqa: E402
from varde.clients.client import VardeClient  # noqa: E402
from varde.server.config import Settings  # noqa: E402

OBS = {"patient_id": "bench-1", "resp_rate": 18, "spo2": 96, "on_oxygen": False, "systolic_bp": 125, "pulse": 80,
       "consciousness": "A", "temperature": 37.2}


def _pushes(client: VardeClient, seconds: float) -> np.ndarray:
    for _ in range(50):
        client.push(OBS)
    out = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        client.push(OBS)
        out.append(time.perf_counter() - t)
    return np.array(out)


def _throughput(client: VardeClient, table, repeat: int) -> float:
    client.score(table.slice(0, 1000), batch_id="warm")
    best = float("inf")
    for i in range(repeat):
        t = time.perf_counter()
        client.score(table, batch_id=f"bench-{i}-{time.time_ns()}")
        best = min(best, time.perf_counter() - t)
    return table.num_rows / best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="measured seconds of pushes per setup")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows for the ScoreBatches part")
    p.add_argument("--repeat", type=int, default=3, help="timed ScoreBatches runs per setup (best kept)")
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args(argv)
    table = generate(args.rows, 7)
    rows = []

    plain = Running(Settings(address="127.0.0.1:0", queue=os.path.join(tempfile.mkdtemp(), "q.sqlite3")))
    try:
        with VardeClient(plain.address) as c:
            rows.append(("plaintext, no auth (local default)", _pushes(c, args.seconds),
                         _throughput(c, table, args.repeat)))
    finally:
        plain.stop()

    secured = Secured()
    try:
        with secured.cert_client("device") as d, secured.cert_client("journal") as j:
            rows.append(("mutual TLS, mapped client certificate", _pushes(d, args.seconds),
                         _throughput(j, table, args.repeat)))
        with secured.token_client("device", hpr=None) as d, secured.token_client("journal", hpr=None) as j:
            rows.append(("TLS + Bearer token (JWT, JWKS)", _pushes(d, args.seconds),
                         _throughput(j, table, args.repeat)))
    finally:
        secured.stop()

    dpop = Secured(scheme="DPoP")
    try:
        with dpop.token_client("device", hpr=None, dpop=DPoPKey()) as d, \
                dpop.token_client("journal", hpr=None, dpop=DPoPKey()) as j:
            rows.append(("TLS + DPoP-bound token (proof per call)", _pushes(d, args.seconds),
                         _throughput(j, table, args.repeat)))
    finally:
        dpop.stop()

    base_p50 = np.median(rows[0][1])
    base_rate = rows[0][2]
    if args.markdown:
        print(f"| setup | pushes | push p50 ms | push p99 ms | p50 vs plaintext | ScoreBatches rows/s "
              f"({args.rows:,} rows) | vs plaintext |")
        print("|---|---|---|---|---|---|---|")
    for name, lat, rate in rows:
        p50, p99 = np.median(lat) * 1e3, np.percentile(lat, 99) * 1e3
        if args.markdown:
            print(f"| {name} | {len(lat):,} | {p50:.2f} | {p99:.2f} | {p50 / (base_p50 * 1e3):.2f}x | "
                  f"{rate / 1e6:.2f}M | {rate / base_rate:.2f}x |")
        else:
            print(f"{name:<42} pushes {len(lat):>6,}  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                  f"ScoreBatches {rate / 1e6:5.2f}M rows/s ({rate / base_rate:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
