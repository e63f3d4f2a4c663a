"""The server: `create_server` for tests and embedding, `serve` for the `varde serve` command."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from varde._proto.varde.v1 import (
    flags_pb2,
    flags_pb2_grpc,
    observations_pb2,
    observations_pb2_grpc,
    patients_pb2,
    patients_pb2_grpc,
    scoring_pb2,
)
from varde.scoring import warm_up
from varde.scoring.national_id import warm_up as warm_up_ids
from varde.scoring.risk import load_policy
from varde.scoring.risk import warm_up as warm_up_risk

from ._decoding import SafeDecoding
from ._handlers import HandlerCache
from ._malloc import tune_allocator
from .auth import Authenticator, AuthInterceptor, load_auth_config
from .config import Settings
from .fhir.endpoint import FhirEndpoint
from .flags.escalation import Escalator, load_escalation_policy
from .flags.follow_up import FollowUp, OverdueWatcher
from .flags.queue import FlagQueue
from .flags.response import ResponsePolicies
from .limits import StreamLimits
from .metrics import Metrics
from .services.flags import FlagsService
from .services.observations import ObservationsService
from .services.patients import PatientsService
from .services.scoring import ScoringService
from .services.scoring import add_to_server as add_scoring_to_server
from .store import open_store
from .tls import ReloadingCredentials

__all__ = ["SERVICE_NAMES", "create_server", "serve"]

log = logging.getLogger("varde.server")

SERVICE_NAMES = (
    scoring_pb2.DESCRIPTOR.services_by_name["Scoring"].full_name,
    observations_pb2.DESCRIPTOR.services_by_name["Observations"].full_name,
    flags_pb2.DESCRIPTOR.services_by_name["Flags"].full_name,
    patients_pb2.DESCRIPTOR.services_by_name["Patients"].full_name,
)


def create_server(address: str = "127.0.0.1:0", settings: Settings | None = None,
                  metrics: Metrics | None = None) -> tuple[grpc.Server, int]:
    """A Varde gRPC server bound to `address` (port 0: a free one), not yet started; returns it and its port.

    Without `settings` there is no flag queue; pass Settings(queue=...) for one. Health is NOT_SERVING until the
    kernels are compiled (or loaded from the cache) in the background; a scoring request that arrives before that
    waits for it rather than paying for a compile itself.
    """
    settings = settings or Settings(address=address, queue=None)
    metrics = metrics or Metrics()
    limit = settings.max_message_bytes
    auth_config = load_auth_config(settings.auth_config) if settings.auth_config else None
    credentials = (ReloadingCredentials(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
                   if settings.tls_cert else None)
    _warn_about_exposure(settings, auth_config, credentials, metrics)
    limits = StreamLimits(settings.max_concurrent_streams, settings.stream_idle_seconds, metrics)
    authenticator = Authenticator(auth_config)
    keepalive_ms = int(settings.keepalive_seconds * 1000)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="varde-rpc"),
        interceptors=[HandlerCache(), AuthInterceptor(authenticator, metrics), limits, SafeDecoding()],
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", -1),  # a scored batch is larger than its request
            ("grpc.so_reuseport", 0),
            # Ping idle connections and drop a peer that does not answer: a vanished client frees its worker.
            ("grpc.keepalive_time_ms", keepalive_ms),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.http2.max_ping_strikes", 3),
            ("grpc.max_concurrent_streams", settings.max_concurrent_rpcs),
        ],
    )
    ready = threading.Event()
    stopping = threading.Event()
    store = open_store(settings.queue) if settings.queue else None
    follow_up = FollowUp(ResponsePolicies(settings.response_policies),
                         int(settings.overdue_grace_seconds * 1_000_000), metrics)
    queue = FlagQueue(store, metrics, follow_up=follow_up) if store else None
    scoring = ScoringService(metrics, ready, limit, queue, load_policy(settings.risk_policy),
                             max_rows=settings.max_rows_per_batch, check_ids=settings.validate_national_id,
                             max_observations_per_batch=settings.stream_batch_max)
    add_scoring_to_server(scoring, server)
    observations = ObservationsService(metrics, scoring, settings.stream_batch_max,
                                       int(settings.assembly_window_seconds * 1_000_000))
    observations_pb2_grpc.add_ObservationsServicer_to_server(observations, server)
    escalation = load_escalation_policy(settings.escalation_policy)
    if store is not None:
        flags_pb2_grpc.add_FlagsServicer_to_server(FlagsService(metrics, store, stopping, follow_up=follow_up), server)
        patients_pb2_grpc.add_PatientsServicer_to_server(PatientsService(metrics, store), server)
        metrics.watch_store(store)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = (server.add_secure_port(address, credentials.credentials) if credentials
            else server.add_insecure_port(address))
    if port == 0:
        raise OSError(f"cannot bind {address}: the address is in use or not on this machine")

    def warm():
        warm_up()
        warm_up_risk()
        if settings.validate_national_id:
            warm_up_ids()
        ready.set()
        metrics.ready.set(1)
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        for name in SERVICE_NAMES:
            health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING if store_state["up"]
                                else health_pb2.HealthCheckResponse.NOT_SERVING)
        log.info("kernels ready; serving")

    store_state = {"up": True}
    threading.Thread(target=warm, name="varde-warm-up", daemon=True).start()
    if store is not None:
        escalator = Escalator(store, escalation, metrics, stopping, settings.escalate_every_seconds)
        threading.Thread(target=escalator.run, name="varde-escalation", daemon=True).start()
        log.info("escalation policy %s", escalation.version)
        overdue = OverdueWatcher(store, follow_up, metrics, stopping, settings.escalate_every_seconds)
        threading.Thread(target=overdue.run, name="varde-overdue", daemon=True).start()
        for unit, version in sorted(follow_up.policies.versions().items()):
            log.info("response policy %s for %s", version, f"unit {unit}" if unit else "every other unit")
        threading.Thread(target=_watch_store, args=(store, metrics, health_servicer, ready, stopping, store_state),
                         name="varde-store-watch", daemon=True).start()
    fhir = None
    if settings.fhir_port is not None:
        fhir = FhirEndpoint(settings, metrics, observations, store, follow_up, authenticator)
        try:
            fhir_port = fhir.start(settings.fhir_host, settings.fhir_port)
        except OSError as e:
            raise OSError(f"FHIR port {settings.fhir_host}:{settings.fhir_port}: {e.strerror}; choose another "
                          "with --fhir-port") from None
        log.info("FHIR R4 endpoint on %s://%s:%d/fhir", "https" if settings.tls_cert else "http",
                 settings.fhir_host, fhir_port)
    console = None
    if settings.console_port is not None:
        from .console import Console

        console = Console(settings, store, escalation)
        try:
            console_port = console.start(settings.console_host, settings.console_port)
        except OSError as e:
            raise OSError(f"console port {settings.console_host}:{settings.console_port}: {e.strerror or e}; "
                          "choose another with --console-port") from None
        log.info("coordinator console on %s://%s:%d/", "https" if settings.tls_cert else "http",
                 settings.console_host, console_port)
    # For serve() and tests: report NOT_SERVING while draining, end watch streams, close the store.
    server.varde = Runtime(health_servicer, stopping, store, limits, credentials, fhir, console)
    return server, port


def _watch_store(store, metrics: Metrics, health_servicer, ready: threading.Event, stopping: threading.Event,
                 state: dict, every: float = 1.0) -> None:
    """Say in health and metrics whether the flag store answers. While it does not, every service whose calls
    commit or read flags is NOT_SERVING (the process itself, "", stays SERVING: it recovers by itself)."""
    up = True
    metrics.store_up.set(1)
    while not stopping.wait(every):
        try:
            store.ping()
            now_up = True
        except Exception as e:  # any driver error means the same to a caller: not now
            now_up, why = False, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if now_up == up:
            continue
        up = state["up"] = now_up
        metrics.store_up.set(1 if up else 0)
        if up:
            log.info("flag store reachable again; serving")
        else:
            log.error("flag store unreachable (%s); scoring and flag calls answer UNAVAILABLE until it is back", why)
        if ready.is_set() and not stopping.is_set():
            status = health_pb2.HealthCheckResponse.SERVING if up else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in SERVICE_NAMES:
                health_servicer.set(name, status)


def _warn_about_exposure(settings: Settings, auth_config, credentials, metrics: Metrics) -> None:
    if settings.loopback and auth_config is None and credentials is None:
        log.warning("no TLS and no auth configuration: serving plaintext on %s only, every caller is the local "
                    "operator (docs/security.md before serving a network)", settings.address)
    elif not settings.loopback and (auth_config is None or credentials is None):
        metrics.insecure.set(1)
        missing = " and ".join(m for m, v in (("TLS", credentials), ("authentication", auth_config)) if v is None)
        log.warning("--insecure: serving %s WITHOUT %s; anyone who reaches the port can read or send health "
                    "data", settings.address, missing)


class Runtime:
    def __init__(self, health_servicer, stopping, store, limits=None, credentials=None, fhir=None, console=None):
        self.health = health_servicer
        self.stopping = stopping
        self.store = store
        self.limits = limits
        self.credentials = credentials
        self.fhir = fhir
        self.console = console

    @property
    def fhir_port(self) -> int | None:
        return self.fhir._httpd.server_address[1] if self.fhir is not None and self.fhir._httpd else None

    def shutdown(self, server: grpc.Server, grace: float | None) -> None:
        """Refuse new calls, end watch streams, let in-flight calls finish within `grace`, close the store."""
        self.health.enter_graceful_shutdown()
        self.stopping.set()
        if self.fhir is not None:
            self.fhir.stop()
        if self.console is not None:
            self.console.stop()
        server.stop(grace).wait()
        if self.limits is not None:
            self.limits.close()
        if self.store is not None:
            self.store.close()


def serve(settings: Settings, *, on_ready=None) -> int:
    """Run until SIGTERM or SIGINT; then refuse new RPCs and let in-flight ones finish within the grace period."""
    tune_allocator()
    metrics = Metrics()
    server, port = create_server(settings.address, settings, metrics)
    metrics_port = None
    if settings.metrics_port is not None:
        try:
            metrics_port = metrics.serve_http(settings.metrics_host, settings.metrics_port)
        except OSError as e:
            server.varde.shutdown(server, 0)
            raise OSError(f"metrics port {settings.metrics_host}:{settings.metrics_port}: {e.strerror}; "
                          "choose another with --metrics-port, or 'off'") from None
    server.start()
    host = settings.address.rpartition(":")[0]
    log.info("listening on %s:%d (metrics: %s)", host, port,
             f"http://{settings.metrics_host}:{metrics_port}/metrics" if metrics_port is not None else "off")
    if on_ready:
        on_ready(port, metrics_port)

    stopping = threading.Event()

    def stop(signum, _frame):
        log.info("%s: draining (grace %.0f s)", signal.Signals(signum).name, settings.grace_seconds)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if server.varde.credentials is not None:
        signal.signal(signal.SIGHUP, lambda *_: server.varde.credentials.reload_now())
    stopping.wait()
    server.varde.shutdown(server, settings.grace_seconds)
    metrics.close()
    log.info("stopped")
    return 0
