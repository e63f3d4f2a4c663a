"""Console tests: a real server with its console, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.console.support import ConsoleServer
from tests.server.stores import new_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def console(request):
    drop = None
    queue = None
    if request.param == "postgresql":
        queue, drop = new_postgres_database()
    running = ConsoleServer(queue)
    yield running
    running.stop()
    if drop:
        drop()


@pytest.fixture
def console_sqlite():
    running = ConsoleServer()
    yield running
    running.stop()
