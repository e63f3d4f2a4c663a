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
    scoring_pb2,
)
from varde.scoring import warm_up
from varde.scoring.risk import load_policy
from varde.scoring.risk import warm_up as warm_up_risk

from .config import Settings
from .flags.queue import FlagQueue
from .metrics import Metrics
from .services.flags import FlagsService
from .services.observations import ObservationsService
from .services.scoring import ScoringService
from .services.scoring import add_to_server as add_scoring_to_server
from .store import open_store

__all__ = ["SERVICE_NAMES", "create_server", "serve"]

log = logging.getLogger("varde.server")

SERVICE_NAMES = (
    scoring_pb2.DESCRIPTOR.services_by_name["Scoring"].full_name,
    observations_pb2.DESCRIPTOR.services_by_name["Observations"].full_name,
    flags_pb2.DESCRIPTOR.services_by_name["Flags"].full_name,
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
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="varde-rpc"),
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", -1),  # a scored batch is larger than its request
            ("grpc.so_reuseport", 0),
        ],
    )
    ready = threading.Event()
    stopping = threading.Event()
    store = open_store(settings.queue) if settings.queue else None
    queue = FlagQueue(store, metrics) if store else None
    scoring = ScoringService(metrics, ready, limit, queue, load_policy(settings.risk_policy))
    add_scoring_to_server(scoring, server)
    observations_pb2_grpc.add_ObservationsServicer_to_server(
        ObservationsService(metrics, scoring, settings.stream_batch_max), server)
    if store is not None:
        flags_pb2_grpc.add_FlagsServicer_to_server(FlagsService(metrics, store, stopping), server)
        metrics.watch_store(store)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind {address}: the address is in use or not on this machine")

    def warm():
        warm_up()
        warm_up_risk()
        ready.set()
        metrics.ready.set(1)
        for name in ("", *SERVICE_NAMES):
            health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("kernels ready; serving")

    threading.Thread(target=warm, name="varde-warm-up", daemon=True).start()
    # For serve() and tests: report NOT_SERVING while draining, end watch streams, close the store.
    server.varde = Runtime(health_servicer, stopping, store)
    return server, port


class Runtime:
    def __init__(self, health_servicer, stopping, store):
        self.health = health_servicer
        self.stopping = stopping
        self.store = store

    def shutdown(self, server: grpc.Server, grace: float | None) -> None:
        """Refuse new calls, end watch streams, let in-flight calls finish within `grace`, close the store."""
        self.health.enter_graceful_shutdown()
        self.stopping.set()
        server.stop(grace).wait()
        if self.store is not None:
            self.store.close()


def serve(settings: Settings, *, on_ready=None) -> int:
    """Run until SIGTERM or SIGINT; then refuse new RPCs and let in-flight ones finish within the grace period."""
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
    stopping.wait()
    server.varde.shutdown(server, settings.grace_seconds)
    metrics.close()
    log.info("stopped")
    return 0
