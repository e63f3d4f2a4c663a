"""The server's settings: read once, from flags over environment over defaults, typed, checked at start.

Every setting has an environment variable VARDE_<NAME> (upper case), so that a container or a unit file can set
it without a command line.
"""

from __future__ import annotations

import dataclasses
import ipaddress
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
    escalation_policy: str | None = None
    """When unclaimed flags escalate (TOML; docs/flags.md). None: the shipped default (HIGH 15 min, MEDIUM 60 min)."""
    escalate_every_seconds: float = 5.0
    """How often the server looks for flags due to escalate and patients whose measurement is overdue."""
    assembly_window_seconds: float = 1800.0
    """Readings of one patient measured within this many seconds make one observation set (docs/home.md). 0: every
    push is scored as sent, on its own."""
    overdue_grace_seconds: float = 900.0
    """A patient's next observation set may be this late before MEASUREMENT_OVERDUE is raised."""
    fhir_port: int | None = None
    """The FHIR R4 REST endpoint (docs/fhir.md) on this port; None: off. 0 takes a free port."""
    fhir_host: str = "127.0.0.1"
    """Where the FHIR endpoint listens; a network address needs TLS and --auth-config like the gRPC port."""
    console_port: int | None = None
    """The coordinator console (docs/console.md) on this port; None: off. 0 takes a free port."""
    console_host: str = "127.0.0.1"
    """Where the console listens; a network address needs TLS (--tls-cert) or a TLS proxy (--console-origin)."""
    console_origin: str | None = None
    """The console's public origin behind a TLS reverse proxy (https://konsoll.example.no): POSTs must come from it."""
    console_oidc: str | None = None
    """Sign-in to the console through an OpenID Connect provider such as HelseID (TOML; docs/console.md)."""
    console_idle_minutes: float = 30.0
    """A console session ends after this long without a request."""
    console_session_hours: float = 12.0
    """A console session ends this long after sign-in, however busy (one shift)."""
    response_policies: str | None = None
    """A folder of response policies, <unit>.toml per unit and default.toml (docs/response-policy.md): whom to
    contact at which band, and how often to measure. None: the shipped RCP 2017 default for every unit."""
    stream_batch_max: int = 512
    """StreamObservations scores up to this many queued observations in one kernel call; an ObservationBatch
    (StreamObservationBatches) may carry up to this many."""
    tls_cert: str | None = None
    """PEM certificate chain the server presents; with tls_key, the server speaks TLS only."""
    tls_key: str | None = None
    tls_client_ca: str | None = None
    """PEM CA bundle for client certificates: set, every client must present one it signed (mutual TLS)."""
    auth_config: str | None = None
    """TOML mapping certificates and token scopes to roles and units (docs/security.md). None: local operator."""
    insecure: bool = False
    """Allow a non-loopback address without TLS or without auth (a warning at start and on the metrics page)."""
    validate_national_id: bool = False
    """Check patient_id as a Norwegian national identity number (docs/national-id.md)."""
    max_rows_per_batch: int = 5_000_000
    """Rows in one Arrow request; more is refused with RESOURCE_EXHAUSTED (the client splits by bytes first)."""
    max_concurrent_streams: int | None = None
    """Open streaming calls at once; beyond it RESOURCE_EXHAUSTED. Below workers, so that unary calls always
    find one. None: three quarters of workers (48 of 64)."""
    stream_idle_seconds: float = 300.0
    """A stream stuck this long, waiting for the client's next message or for the client to read a reply, is
    ended (the client sees CANCELLED), freeing its worker."""
    keepalive_seconds: float = 60.0
    """HTTP/2 pings on idle connections; a peer that does not answer within 20 s is dropped."""

    def __post_init__(self):
        host, sep, port = self.address.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"address {self.address!r} must be host:port, e.g. 127.0.0.1:50051 (port 0: any free)")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics port {self.metrics_port} must be 0-65535 (or 'off')")
        for name, low in (("max_message_bytes", 1024), ("workers", 2), ("max_concurrent_rpcs", 1),
                          ("stream_batch_max", 1), ("max_rows_per_batch", 1)):
            if getattr(self, name) < low:
                raise ConfigError(f"{name} is {getattr(self, name)}; it must be at least {low}")
        if self.grace_seconds < 0:
            raise ConfigError(f"grace_seconds is {self.grace_seconds}; it must be 0 or more")
        if not 0 <= self.assembly_window_seconds <= 24 * 3600:
            raise ConfigError(f"assembly_window_seconds is {self.assembly_window_seconds}; it must be 0 (off) to "
                              "86400 (a day)")
        if self.overdue_grace_seconds < 0:
            raise ConfigError(f"overdue_grace_seconds is {self.overdue_grace_seconds}; it must be 0 or more")
        if self.response_policies is not None and not os.path.isdir(self.response_policies):
            raise ConfigError(f"--response-policies {self.response_policies!r}: no such folder (it holds "
                              "<unit>.toml files; docs/response-policy.md)")
        if self.escalate_every_seconds <= 0:
            raise ConfigError(f"escalate_every_seconds is {self.escalate_every_seconds}; it must be above 0")
        for name in ("stream_idle_seconds", "keepalive_seconds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} is {getattr(self, name)}; it must be at least 1")
        if self.max_concurrent_streams is None:
            object.__setattr__(self, "max_concurrent_streams", max(1, self.workers * 3 // 4))
        if not 1 <= self.max_concurrent_streams < self.workers:
            raise ConfigError(f"max_concurrent_streams ({self.max_concurrent_streams}) must be 1 or more and below "
                              f"workers ({self.workers}), or open streams could take every worker from unary calls")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together (VARDE_TLS_CERT, VARDE_TLS_KEY)")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ConfigError("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key for the server itself")
        for name in ("tls_cert", "tls_key", "tls_client_ca", "auth_config"):
            path = getattr(self, name)
            if path is not None and not os.path.isfile(path):
                raise ConfigError(f"--{name.replace('_', '-')} {path!r}: no such file")
        if self.fhir_port is not None and not 0 <= self.fhir_port <= 65535:
            raise ConfigError(f"fhir port {self.fhir_port} must be 0-65535 (or 'off')")
        if self.fhir_port is not None and self.queue is None:
            raise ConfigError("the FHIR endpoint records readings and serves flags: it needs a --queue")
        if self.console_port is not None and not 0 <= self.console_port <= 65535:
            raise ConfigError(f"console port {self.console_port} must be 0-65535 (or 'off')")
        if self.console_port is not None and self.queue is None:
            raise ConfigError("the console shows the flag queue: it needs a --queue")
        if self.console_oidc is not None:
            from .console._oidc import OidcConfigError, load_oidc_config
            try:
                load_oidc_config(self.console_oidc)
            except OidcConfigError as e:
                raise ConfigError(str(e)) from None
        if self.console_idle_minutes <= 0 or self.console_session_hours <= 0:
            raise ConfigError("console_idle_minutes and console_session_hours must be above 0")
        if self.console_origin is not None and not self.console_origin.startswith(("https://", "http://")):
            raise ConfigError(f"--console-origin {self.console_origin!r}: give the origin the browser sees, as "
                              "https://host[:port]")
        if (self.console_port is not None and not _loopback(self.console_host) and self.tls_cert is None
                and self.console_origin is None and not self.insecure):
            raise ConfigError(f"refusing to serve the console on {self.console_host} without TLS: set --tls-cert and "
                              "--tls-key, or put a TLS reverse proxy in front and set --console-origin "
                              "(docs/console.md), or bind it to 127.0.0.1")
        exposed = not self.loopback or (self.fhir_port is not None and not _loopback(self.fhir_host))
        if exposed and not self.insecure:
            missing = [flag for flag, value in (("--tls-cert/--tls-key", self.tls_cert),
                                                ("--auth-config", self.auth_config)) if value is None]
            if missing:
                raise ConfigError(
                    f"refusing to serve health data on {self.address} without {' and '.join(missing)}: "
                    "anyone on the network could read or send it. Set them (docs/security.md), bind to "
                    "127.0.0.1, or pass --insecure to accept the risk (a test network only)")

    @property
    def loopback(self) -> bool:
        """Whether the gRPC address is reachable from this machine only."""
        return _loopback(self.address.rpartition(":")[0])

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


def _loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        if kind == "bool":
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
    except ValueError:
        raise ConfigError(f"{var}={text!r} is not a valid {kind.split()[0]}") from None
    raise AssertionError(f"no parser for {kind}")
