"""A real Varde server on a free port, in this process."""

import pytest

from tests.support import Running


@pytest.fixture(scope="module")
def server():
    running = Running()
    yield running
    running.stop()
