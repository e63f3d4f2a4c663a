"""The flag queue's cost: flags per second into SQLite and PostgreSQL, and end-to-end batch throughput with and
without the queue, in one run.

Target (issue "flag queue"): batch scoring with the queue < 10 % slower than with no flags.

    python benchmarks/bench_queue.py --rows 1000000 [--postgres postgresql://postgres@127.0.0.1/postgres]

1. In process: FlagQueue.record on scored chunks (the trend kernel, findings, one commit per chunk), per store.
2. End to end: a `varde serve` process per store (--queue off | SQLite file | PostgreSQL database) and
   VardeClient.score streaming the same table in 4 MiB requests; rows/s, and the ratio to --queue off.
The data (benchmarks/_data.py) is a hospital-like batch: ~20 observation sets per patient, patient-major;
~7 % of rows MEDIUM or HIGH and ~10 % with a red score, so a 60k-row request finds thousands of flags.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._data import generate  # noqa: E402
from varde.clients.client import VardeClient, VardeError  # noqa: E402
from varde.scoring import score_news2  # noqa: E402
from varde.server.flags.queue import FlagQueue  # noqa: E402
from varde.server.store import open_store  # noqa: E402


def _postgres_db(admin: str) -> tuple[str, callable]:
    import psycopg

    name = f"varde_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def in_process(scored, url: str, chunk: int) -> tuple[float, int, int]:
    store = open_store(url)
    q = FlagQueue(store)
    raised = updated = 0
    t = time.perf_counter()
    for k, start in enumerate(range(0, scored.num_rows, chunk)):
        r = q.record(scored.slice(start, chunk), f"bench/{k}", "bench")
        raised += r.raised
        updated += r.updated
    elapsed = time.perf_counter() - t
    store.close()
    return elapsed, raised, updated


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def end_to_end(table, queue: str, repeat: int) -> float:
    """Best seconds to score `table` through a fresh server process; each repeat with new batch ids."""
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "varde", "serve", "--address", f"127.0.0.1:{port}",
                             "--metrics-port", "off", "--queue", queue], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        with VardeClient(f"127.0.0.1:{port}", timeout=600, retries=10) as c:
            c.wait_until_serving(180)
            best = float("inf")
            for _ in range(repeat):
                t = time.perf_counter()
                c.score(table, batch_id=uuid.uuid4().hex)
                best = min(best, time.perf_counter() - t)
            return best
    except VardeError as e:
        raise SystemExit(f"server with --queue {queue}: {e}") from None
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=60_000, help="rows per commit in the in-process part")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get("VARDE_TEST_POSTGRES",
                                                         "postgresql://postgres@127.0.0.1:5432/postgres"),
                    help="an admin URL; a scratch database is made and dropped ('off' to skip)")
    args = ap.parse_args()

    table = generate(args.rows, 0)
    scored = score_news2(table)
    print(f"# {args.rows:,} rows, {table.column('patient_id').combine_chunks().dictionary.__len__():,} patients; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    stores = {}
    cleanups = []
    with tempfile.TemporaryDirectory() as tmp:
        stores["sqlite"] = lambda: os.path.join(tmp, f"{uuid.uuid4().hex}.sqlite3")
        if args.postgres != "off":
            def pg():
                url, drop = _postgres_db(args.postgres)
                cleanups.append(drop)
                return url
            stores["postgresql"] = pg
        try:
            print("\n## In process: FlagQueue.record, one commit per chunk of", f"{args.chunk:,} rows")
            print(f"{'store':<12}{'seconds':>10}{'rows/s':>14}{'flags raised':>14}{'flags/s':>12}{'updated':>10}")
            for name, make in stores.items():
                elapsed, raised, updated = in_process(scored, make(), args.chunk)
                print(f"{name:<12}{elapsed:>10.2f}{args.rows / elapsed:>14,.0f}{raised:>14,}"
                      f"{(raised + updated) / elapsed:>12,.0f}{updated:>10,}")

            print("\n## End to end: VardeClient.score through `varde serve` (best of", args.repeat, ")")
            base = end_to_end(table, "off", args.repeat)
            print(f"{'queue':<12}{'seconds':>10}{'rows/s':>14}{'vs no queue':>14}")
            print(f"{'off':<12}{base:>10.2f}{args.rows / base:>14,.0f}{'1.00x':>14}")
            for name, make in stores.items():
                t = end_to_end(table, make(), args.repeat)
                print(f"{name:<12}{t:>10.2f}{args.rows / t:>14,.0f}{t / base:>13.2f}x")
        finally:
            for drop in cleanups:
                drop()


if __name__ == "__main__":
    main()
