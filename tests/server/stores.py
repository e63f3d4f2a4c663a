"""Both flag stores for one shared test suite: a fresh SQLite file, a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid

import pytest

from varde.server import clock

# The CI machine runs PostgreSQL here with trust authentication; VARDE_TEST_POSTGRES points elsewhere.
ADMIN_URL = os.environ.get("VARDE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def new_postgres_database() -> tuple[str, callable]:
    import psycopg

    name = f"varde_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is needed for the shared store tests ({ADMIN_URL}): {e}; start it or set "
                    "VARDE_TEST_POSTGRES")
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop():
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A URL for an empty queue, once per store."""
    if request.param == "sqlite":
        yield str(tmp_path / "queue.sqlite3")
        return
    url, drop = new_postgres_database()
    yield url
    drop()


class SimClock:
    """The server's clock, set by the test: `clock.use(SimClock(at))`, then move `.at` (µs since the epoch)."""

    def __init__(self, at: int):
        self.at = at

    def __call__(self) -> int:
        return self.at


def simulated_clock(start_us: int):
    """A fixture body: the server's clock at `start_us` for the test, the system clock again after it."""
    c = SimClock(start_us)
    clock.use(c)
    try:
        yield c
    finally:
        clock.use(None)


def open_and_close(store_url: str):
    """A fixture body: the store at `store_url`, closed after the test."""
    from varde.server.store import open_store

    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()
