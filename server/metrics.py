"""Prometheus metrics. Labels name methods, codes, bands and reject reasons only: never a patient or a value."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["Metrics"]

_LATENCY = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_ROWS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


class Metrics:
    """One registry per server, so that several servers in one process (tests) keep their own counts."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = r = registry or CollectorRegistry()
        self.rpcs = Counter("varde_rpcs", "Finished RPCs by method and status code", ["method", "code"], registry=r)
        self.rpc_seconds = Histogram("varde_rpc_seconds", "RPC latency, start to last response",
                                     ["method"], buckets=_LATENCY, registry=r)
        self.in_flight = Gauge("varde_rpcs_in_flight", "RPCs (streams included) being served now", ["method"],
                               registry=r)
        self.rows_scored = Counter("varde_rows_scored", "Rows through a scoring kernel", ["kernel"], registry=r)
        self.rows_rejected = Counter("varde_rows_rejected", "Rows rejected, by reject code", ["reason"], registry=r)
        self.band_rows = Counter("varde_band_rows", "Scored rows by NEWS2 band", ["band"], registry=r)
        self.kernel_seconds = Histogram("varde_kernel_seconds", "Time in the scoring kernel per call",
                                        ["kernel"], buckets=_LATENCY, registry=r)
        self.batch_rows = Histogram("varde_batch_rows", "Rows per scored batch", ["kernel"], buckets=_ROWS,
                                    registry=r)
        self.findings = Counter("varde_findings", "Rows that found something worth a flag, by flag kind", ["kind"],
                                registry=r)
        self.flags_raised = Counter("varde_flags_raised", "New flags in the queue", registry=r)
        self.flags_updated = Counter("varde_flags_updated", "Findings folded into an open flag", registry=r)
        self.flags_claimed = Counter("varde_flags_claimed", "Flags claimed by a coordinator", registry=r)
        self.flags_escalated = Counter("varde_flags_escalated", "Escalations of flags not claimed, or not resolved "
                                       "after a claim, in time, by severity", ["severity"], registry=r)
        self.flags_reminded = Counter("varde_flags_reminded", "Reminders of claimed flags not resolved within the "
                                      "escalation policy's time to resolve, by severity", ["severity"], registry=r)
        self.flags_resolved = Counter("varde_flags_resolved", "Flags resolved, by what they led to (VISITED, PHONED, "
                                      "GP_CONTACTED, EMERGENCY_SERVICES, NO_ACTION)", ["outcome"], registry=r)
        self.raise_to_claim = Histogram("varde_flag_raise_to_claim_seconds", "Time from a flag's raise to its claim, "
                                        "by the flag's kind and severity", ["kind", "severity"],
                                        buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400),
                                        registry=r)
        self.raise_to_resolve = Histogram("varde_flag_raise_to_resolve_seconds", "Time from a flag's raise to its "
                                          "resolution, by kind and severity", ["kind", "severity"],
                                          buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 259200,
                                                   604800), registry=r)
        self.outcomes = Counter("varde_flag_outcomes", "Resolved flags by kind and what they led to", ["kind",
                                "outcome"], registry=r)
        self.observation_sets = Counter("varde_observation_sets", "Assembled observation sets answered, by "
                                        "completeness (complete: all seven parameters; partial)", ["completeness"],
                                        registry=r)
        self.overdue_raised = Counter("varde_measurements_overdue", "MEASUREMENT_OVERDUE flags raised: a patient's "
                                      "next observation set did not come in time", registry=r)
        self.overdue_cleared = Counter("varde_measurements_overdue_cleared", "MEASUREMENT_OVERDUE flags the server "
                                       "resolved because a new observation set arrived", registry=r)
        self.queue_seconds = Histogram("varde_queue_commit_seconds", "Trend, findings and commit per batch",
                                       buckets=_LATENCY, registry=r)
        self.codes = Counter("varde_risk_codes", "Codes in risk extracts that could not be used, by problem "
                             "(unknown, malformed, underspecified)", ["problem"], registry=r)
        self.auth_refused = Counter("varde_auth_refused", "Calls refused by the auth interceptor, by method, status "
                                    "code and reason (a fixed word such as token_expired or role)",
                                    ["method", "code", "reason"], registry=r)
        self.streams_open = Gauge("varde_streams_open", "Streaming calls open now (capped by "
                                  "--max-concurrent-streams)", registry=r)
        self.streams_refused = Counter("varde_streams_refused", "Streaming calls refused because the cap was "
                                       "reached", registry=r)
        self.streams_idle_ended = Counter("varde_streams_idle_ended", "Request streams ended for sending nothing "
                                          "for --stream-idle-seconds", registry=r)
        self.insecure = Gauge("varde_insecure", "1 = WARNING: serving on a network address without TLS or without "
                              "authentication (--insecure); health data can be read or sent by anyone who reaches "
                              "the port", registry=r)
        self.store_up: Gauge | None = None  # only with a flag store (watch_store)
        self.ready = Gauge("varde_ready", "1 once the kernels are compiled and the server is serving", registry=r)
        self._http = None
        self._lock = threading.Lock()
        self._children: dict = {}

    def child(self, metric, *labels: str):
        """metric.labels(*labels), remembered: prometheus_client checks the values and takes a lock on every
        labels() call, and a push has seven of them."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def watch_store(self, store) -> None:
        """Report open flags by kind and severity and the oldest unclaimed one, read from the store at scrape time
        (shared by all servers), and whether the store answers."""
        self.registry.register(_OpenFlags(store))
        self.store_up = Gauge("varde_store_up", "1 while the flag store answers; 0: calls that raise or read flags "
                              "answer UNAVAILABLE (nothing is kept that could not be committed)",
                              registry=self.registry)

    def serve_http(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve /metrics on host:port in a daemon thread; return the bound port."""
        with self._lock:
            if self._http is None:
                self._http = start_http_server(port, addr=host, registry=self.registry)
            return self._http[0].server_port

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http[0].shutdown()
                self._http[0].server_close()
                self._http = None


class _OpenFlags:
    """A collector that counts open (and claimed) flags in the store when Prometheus scrapes."""

    def __init__(self, store):
        self._store = store

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        names = {1: "LOW", 2: "MEDIUM", 3: "HIGH"}
        family = GaugeMetricFamily("varde_flags_open", "Flags not yet resolved, by kind and severity",
                                   labels=["kind", "severity"])
        oldest = GaugeMetricFamily("varde_flags_oldest_unclaimed_timestamp_seconds",
                                   "Raise time of the oldest flag nobody has claimed yet, by severity (for the "
                                   "escalation alerts: time() minus this is how long it has waited)",
                                   labels=["severity"])
        try:
            counts = self._store.open_counts()
            waiting = self._store.oldest_unclaimed()
        except Exception:  # a scrape must not fail because the store is briefly away
            counts, waiting = [], []
        for kind, severity, n in counts:
            family.add_metric([kind, names.get(severity, str(severity))], n)
        for severity, created_us in waiting:
            oldest.add_metric([names.get(severity, str(severity))], created_us / 1e6)
        yield family
        yield oldest
