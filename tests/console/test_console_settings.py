"""The console's settings fail fast, each with what to do instead."""

from __future__ import annotations

import pytest

from varde.server.config import ConfigError, Settings


@pytest.mark.parametrize("overrides, says", [
    (dict(console_port="8080", queue="off"), "needs a --queue"),
    (dict(console_port="8080", console_host="0.0.0.0"), "without TLS"),
    (dict(console_port="70000"), "must be 0-65535"),
    (dict(console_port="8080", console_origin="konsoll.kommune.no"), "https://host"),
    (dict(console_port="8080", console_idle_minutes="0"), "must be above 0"),
])
def test_bad_console_settings_are_refused(overrides, says):
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({}, **overrides)


def test_a_proxy_origin_allows_a_network_address():
    s = Settings.from_env({}, console_port="8080", console_host="0.0.0.0",
                          console_origin="https://konsoll.kommune.no", address="127.0.0.1:50051")
    assert s.console_origin == "https://konsoll.kommune.no"


def test_environment_sets_the_console():
    s = Settings.from_env({"VARDE_CONSOLE_PORT": "8081", "VARDE_CONSOLE_SESSION_HOURS": "8"})
    assert s.console_port == 8081 and s.console_session_hours == 8
