"""A real Varde server on a free port, in this process, with its metrics on a free HTTP port."""

from __future__ import annotations

import pytest

from tests.support import Running
from varde.server.config import Settings


@pytest.fixture(scope="session")
def server():
    running = Running()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def small_limit_server():
    running = Running(Settings(address="127.0.0.1:0", max_message_bytes=256 * 1024, queue=None))
    yield running
    running.stop()
