"""The server's memory under bad input and under load: RSS must stay flat (targets.md).

    python benchmarks/bench_memory.py [--bad 10000] [--batches 1000]

Starts `varde serve` (flag queue in a scratch SQLite file), then reads its RSS from /proc after warm-up, after
`--bad` bad requests of every kind (garbage IPC, missing column, empty stream, truncated IPC, wrong type), and
after `--batches` streamed batches of 20,000 rows (in rounds), printing RSS at each step.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._data import generate  # noqa: E402
from varde._proto.varde.v1 import scoring_pb2, scoring_pb2_grpc  # noqa: E402
from varde.clients.client import VardeClient  # noqa: E402


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def ipc(table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write(table)
    return sink.getvalue().to_pybytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bad", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=1_000)
    args = ap.parse_args()
    good = generate(20_000, 1)
    bad_payloads = [b"\xff" * 200, ipc(good.drop_columns(["pulse"])), ipc(good)[:-500],
                    ipc(good.set_column(good.schema.get_field_index("resp_rate"), "resp_rate",
                                        pa.array(["x"] * good.num_rows)))]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, "-m", "varde", "serve", "--address", f"127.0.0.1:{port}",
                                 "--metrics-port", "off", "--queue", os.path.join(tmp, "q.sqlite3")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            address = f"127.0.0.1:{port}"
            with VardeClient(address, timeout=120) as c:
                c.wait_until_serving(180)
                for _ in range(20):  # warm: first allocations, caches, thread pool
                    c.score(good)
                print(f"after warm-up:              {rss_mib(proc.pid):8.1f} MiB")
                t = time.perf_counter()
                with grpc.insecure_channel(address) as ch:
                    stub = scoring_pb2_grpc.ScoringStub(ch)
                    for i in range(args.bad):
                        requests = [] if i % 5 == 4 else [scoring_pb2.ArrowBatch(
                            batch_id=f"bad-{i}", arrow_ipc=bad_payloads[i % len(bad_payloads)])]
                        try:
                            list(stub.ScoreBatches(iter(requests), timeout=30))
                        except grpc.RpcError as e:
                            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
                        if (i + 1) % (args.bad // 4) == 0:
                            print(f"after {i + 1:>6,} bad requests: {rss_mib(proc.pid):8.1f} MiB")
                print(f"  ({args.bad / (time.perf_counter() - t):,.0f} bad requests/s)")
                rounds = 4
                per_round = args.batches // rounds
                for r in range(rounds):
                    c.score([good] * per_round, batch_id=f"round-{r}")
                    print(f"after {(r + 1) * per_round:>6,} batches:     {rss_mib(proc.pid):8.1f} MiB")
        finally:
            proc.terminate()
            proc.wait(60)


if __name__ == "__main__":
    main()
