"""The server's settings: read once, from flags over environment over defaults, typed, checked at start.

Every setting has an environment variable VARDE_<NAME> (upper case), so that a container or a unit file can set
it without a command line.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

__all__ = ["ConfigError", "Settings"]

MiB = 1 << 20


class ConfigError(ValueError):
    """A setting has a value the server cannot start with; the message names the setting and what to do."""


@dataclasses.dataclass(frozen=True)
class Settings:
    address: str = "127.0.0.1:50051"
    """host:port for gRPC. Port 0 takes a free port."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9464
    """Prometheus /metrics on its own HTTP port; None turns it off."""
    max_message_bytes: int = 64 * MiB
    """Largest request message the server accepts. Clients split Arrow batches to stay under it."""
    workers: int = 64
    """gRPC worker threads. Each open stream holds one; unary calls share the rest."""
    max_concurrent_rpcs: int = 1000
    """Beyond this the server answers RESOURCE_EXHAUSTED instead of queueing without bound."""
    grace_seconds: float = 10.0
    """On SIGTERM, in-flight RPCs get this long to finish; new ones are refused."""
    queue: str | None = "varde-queue.sqlite3"
    """The flag queue: a SQLite file path (created if missing), postgresql://..., or None for no flags."""
    risk_policy: str | None = None
    """The risk policy (TOML) for ScorePatients; None: the shipped default (docs/risk.md)."""
    stream_batch_max: int = 512
    """StreamObservations scores up to this many queued observations in one kernel call."""

    def __post_init__(self):
        host, sep, port = self.address.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"address {self.address!r} must be host:port, e.g. 127.0.0.1:50051 (port 0: any free)")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics port {self.metrics_port} must be 0-65535 (or 'off')")
        for name, low in (("max_message_bytes", 1024), ("workers", 2), ("max_concurrent_rpcs", 1),
                          ("stream_batch_max", 1)):
            if getattr(self, name) < low:
                raise ConfigError(f"{name} is {getattr(self, name)}; it must be at least {low}")
        if self.grace_seconds < 0:
            raise ConfigError(f"grace_seconds is {self.grace_seconds}; it must be 0 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then VARDE_* variables, then `overrides` (flags given on the command line; None = not given).

        An override may be text as typed ("off" turns an optional setting off), parsed like the environment.
        """
        environ = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for name, field in fields.items():
            var = f"VARDE_{name.upper()}"
            if var in environ:
                values[name] = _parse(field, environ[var], var)
        for name, value in overrides.items():
            if value is not None:
                flag = "--" + name.replace("_", "-")
                values[name] = _parse(fields[name], value, flag) if isinstance(value, str) else value
        return cls(**values)


def _parse(field: dataclasses.Field, text: str, var: str):
    kind = field.type
    text = text.strip()
    try:
        if kind == "str":
            return text
        if kind == "str | None":
            return None if text.lower() in ("", "off", "none") else text
        if kind == "int | None":
            return None if text.lower() in ("", "off", "none") else int(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(f"{var}={text!r} is not a valid {kind.split()[0]}") from None
    raise AssertionError(f"no parser for {kind}")
