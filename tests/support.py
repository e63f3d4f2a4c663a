"""Shared by the server, client and end-to-end tests: a real server on a free port, and observation tables."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pyarrow as pa

from benchmarks._data import generate
from varde.clients.client import VardeClient
from varde.server.app import create_server
from varde.server.config import Settings
from varde.server.metrics import Metrics


class Running:
    """A server with its flag queue in a fresh SQLite file (or `queue`, e.g. a postgresql:// URL)."""

    def __init__(self, settings: Settings | None = None, queue: str | None = None,
                 connect=None):
        self.metrics = Metrics()
        if settings is None:
            queue = queue or os.path.join(tempfile.mkdtemp(prefix="varde-test-"), "queue.sqlite3")
            settings = Settings(address="127.0.0.1:0", queue=queue)
        self.settings = settings
        self.server, self.port = create_server(settings.address, settings, self.metrics)
        self.server.start()
        self.address = f"127.0.0.1:{self.port}"
        self.metrics_port = self.metrics.serve_http("127.0.0.1", 0)
        with (connect(self.port) if connect else VardeClient(self.address)) as c:
            c.wait_until_serving()

    def client(self, **kw) -> VardeClient:
        return VardeClient(self.address, **kw)

    def stop(self):
        self.server.varde.shutdown(self.server, 0)
        self.metrics.close()


def free_ports(n: int) -> list[int]:
    """n ports free on 127.0.0.1 now, for servers started as processes (which cannot report a port 0 back)."""
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def observations(n: int, seed: int = 0) -> pa.Table:
    """Realistic rows with one row in 50 made bad in some way, so that reject reasons travel too."""
    table = generate(n, seed)
    rng = np.random.default_rng(seed)
    bad = rng.random(n) < 0.02
    resp = table.column("resp_rate").to_numpy(zero_copy_only=False).astype(np.float64)
    resp[bad] = rng.choice([np.nan, -1.0, 250.0, np.inf], int(bad.sum()))
    cons = table.column("consciousness").to_pylist()
    for i in np.flatnonzero(rng.random(n) < 0.01):
        cons[i] = "sleepy"
    pid = table.column("patient_id").to_pylist()
    for i in np.flatnonzero(rng.random(n) < 0.005):
        pid[i] = None
    table = table.set_column(table.schema.get_field_index("resp_rate"), "resp_rate", pa.array(resp))
    table = table.set_column(table.schema.get_field_index("consciousness"), "consciousness", pa.array(cons))
    return table.set_column(table.schema.get_field_index("patient_id"), "patient_id", pa.array(pid, pa.string()))


def assert_same_table(got: pa.Table, expected: pa.Table) -> None:
    """Equal schemas and values, column by column; NaN equals NaN (pyarrow's equals says it does not)."""
    assert got.schema.equals(expected.schema, check_metadata=True), (got.schema, expected.schema)
    assert got.num_rows == expected.num_rows
    for name in expected.column_names:
        a, b = got.column(name).combine_chunks(), expected.column(name).combine_chunks()
        if pa.types.is_floating(b.type):
            assert a.is_null().equals(b.is_null()), name
            np.testing.assert_array_equal(a.fill_null(0).to_numpy(), b.fill_null(0).to_numpy(), err_msg=name)
        else:
            assert a.equals(b), name
