"""Home follow-up: what assembling readings from several devices into observation sets costs a push, in one run.

    python benchmarks/bench_home.py [--devices 1,8,64] [--seconds S] [--postgres URL] [--profile] [--markdown]

Why: with `assembly_window_seconds` on (the default, 30 minutes; docs/home.md) every PushObservation stores its
reading, reads the patient's readings within the window, assembles the set, scores it, writes ISBAR for its flags
and the patient's due time, all in one transaction. Off (0), the "plain push" scores the push as sent. The issue's
target: assembly costs less than 30 % of plain push throughput (assembled >= 0.70x plain pushes/s).

How: for each store (a fresh SQLite file per run; with --postgres also a fresh PostgreSQL database per run, dropped
after), each device count N and each mode (plain: window 0; assembled: window 1800 s), a fresh server in this
process (varde.server.app.create_server, the SQLite queue as `varde serve` has it: WAL, synchronous=FULL) and N
device threads in one spawned client process (its own GIL; each thread its own VardeClient and TCP connection),
closed loop, one push in flight per device: --prime pushes per patient and --warmup seconds unmeasured, then
--seconds measured. The whole sweep runs --repeat times, interleaved; each (store, devices, mode) keeps its best
run by pushes/s (the others' rates are listed too): on a shared 2-core VM a busy minute hits one run, not a mode.

The readings (the same both ways): every device thread is a home hub for --patients patients; it pushes for them
in turn, and each patient's pushes rotate oximeter (spo2, pulse), cuff (systolic_bp, pulse), thermometer
(temperature) and nurse app (resp_rate, consciousness, on_oxygen). Each patient's measurement time advances one
minute per push, so a 30-minute window holds ~30 readings and old readings leave it. That is the densest history:
ISBAR reads back up to 200 readings of the day before a flagged set, so a patient's push costs more as their
history grows, until the patient has ~200 readings (the 1-device runs, 4 patients, get there within seconds; the
64-device runs, 256 patients, never do). With --gap-minutes G the clock also skips G minutes after each round,
as for a patient measured every few hours, and the window holds one round. Every hub's patients are half well
(NEWS2 0-1), a quarter unwell (MEDIUM) and a quarter ill (HIGH) for the whole run, so flags are raised, then
updated push after push (ISBAR built for each), and every run and mode does like work whichever stretch of the
readings it reaches. The times start 10 days back (times 1 + G/4) so that they never run into the future
(rejected after 5 minutes); the server's escalation and overdue watchers are therefore set to run hourly
(--watch-every), or every back-dated patient would be overdue at once: they are periodic scans, not part of a push.

Reported per (store, devices, mode): pushes/s, p50 and p99 latency, the server process's CPU per push (the client
runs in another process), PostgreSQL's CPU per push (all its processes), the cores every other process used (not
this run's: a busy machine moves the figures), the share of answers that were complete sets; then assembled /
plain and the cost (1 - assembled/plain pushes/s) against the target; then what the store holds afterwards
(readings, patients' newest sets, flags, batches), to show the work was real.

--profile then times the sections of one push path in the server (both modes, --profile-devices devices, by
replacing the server's functions with timed wrappers in this process; no file is changed), shows where the
assembled push's extra time goes, and lists cProfile's top functions for the assembled push.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import cProfile
import datetime as dt
import io
import multiprocessing as mp
import os
import platform
import pstats
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOST = "127.0.0.1"
WINDOW_S = 1800.0
TARGET_COST = 0.30
MODES = ("plain", "assembled")
MINUTE_US = 60_000_000
START_BACK_PUSHES = 14_400  # the first measurement time: this many pushes per patient before now (10 days at 1/min)
COUNTED_TABLES = ("readings", "follow_up", "flags", "flag_events", "batches", "trend_state")

# condition -> centre of each parameter: well (NEWS2 0-1), unwell (~5-6, MEDIUM), ill (~9+, HIGH)
CENTRES = {
    "resp_rate": (16, 22, 25), "spo2": (97, 94, 91), "systolic_bp": (125, 105, 95), "pulse": (75, 100, 118),
    "temperature": (36.9, 38.3, 39.2),
}  # fmt: skip
SPREAD = {"resp_rate": 2, "spo2": 1, "systolic_bp": 8, "pulse": 8, "temperature": 0.3}
MIX = (0, 0, 1, 2)  # the conditions of a hub's patients, in turn: half well, a quarter unwell, a quarter ill
DEVICES = ("oximeter", "cuff", "thermometer", "nurse-app")
DEVICE_FIELDS = (("spo2", "pulse"), ("systolic_bp", "pulse"), ("temperature",), ("resp_rate",))


# ---------------------------------------------------------------------------------------------- the devices


class Hub:
    """One device thread's readings: deterministic from (seed, hub number), so both modes send the same ones."""

    def __init__(self, seed: int, hub: int, patients: int, t0_us: int, gap_minutes: float = 0.0):
        self.rng = np.random.default_rng([seed, hub])
        self.patients = [f"home-{hub:03d}-{k}" for k in range(patients)]
        self.condition = [MIX[k % len(MIX)] for k in range(patients)]
        self.t0_us = t0_us
        self.gap_us = int(gap_minutes * MINUTE_US)
        self.i = 0

    def next(self) -> dict:
        n = len(self.patients)
        k, turn = self.i % n, self.i // n
        self.i += 1
        rng = self.rng
        c = self.condition[k]
        kind = turn % len(DEVICES)
        values = {}
        for name in DEVICE_FIELDS[kind]:
            v = CENTRES[name][c] + rng.uniform(-SPREAD[name], SPREAD[name])
            values[name] = round(v, 1) if name == "temperature" else int(round(v))
        if kind == 3:
            values["consciousness"] = "A"
            values["on_oxygen"] = False
        at_us = self.t0_us + turn * MINUTE_US + turn // len(DEVICES) * self.gap_us  # a gap after each round
        at = dt.datetime.fromtimestamp(at_us / 1e6, dt.UTC)
        return {"patient_id": self.patients[k], "observed_at": at, "source": DEVICES[kind], **values}


def _device_process(address: str, hubs: list[int], patients: int, prime: int, seed: int, t0_us: int,
                    gap_minutes: float, out, ctrl) -> None:
    """Spawned: one thread per hub, each its own VardeClient (own TCP connection). Says "ready" once every thread
    is connected and has sent `prime` pushes per patient, gets (start_at, stop_at) in time.monotonic(), pushes
    until stop_at, and sends back the measured latencies and counts."""
    from varde.clients.client import VardeClient

    times: dict = {}
    go = threading.Event()
    connected = threading.Barrier(len(hubs) + 1)
    results = [None] * len(hubs)

    def device(slot: int, hub_no: int) -> None:
        hub = Hub(seed, hub_no, patients, t0_us, gap_minutes)
        lat = array.array("d")
        pushes = complete = assembled = errors = 0
        first = ""
        with VardeClient(address, options=[("grpc.use_local_subchannel_pool", 1)], retries=0) as client:
            client.wait_until_serving()
            for _ in range(prime * patients):  # each patient's first round of the four devices, unmeasured
                try:
                    client.push(hub.next())
                    pushes += 1
                except Exception as e:  # counted and reported; the barrier below must still be reached
                    errors += 1
                    first = first or f"{type(e).__name__}: {e}"
            connected.wait()
            go.wait()
            start_at, stop_at = times["start"], times["stop"]
            while True:
                t = time.monotonic()
                if t >= stop_at:
                    break
                obs = hub.next()
                try:
                    a = client.push(obs)
                except Exception as e:  # counted and reported, the run goes on
                    errors += 1
                    first = first or f"{type(e).__name__}: {e}"
                    continue
                done = time.monotonic()
                pushes += 1
                if t >= start_at and done <= stop_at:
                    lat.append(done - t)
                    complete += a.complete
                    assembled += a.assembled
        results[slot] = (lat, pushes, complete, assembled, errors, first)

    threads = [threading.Thread(target=device, args=(slot, h), daemon=True) for slot, h in enumerate(hubs)]
    for t in threads:
        t.start()
    connected.wait()
    out.put("ready")
    times["start"], times["stop"] = ctrl.get()
    go.set()
    for t in threads:
        t.join()
    lat = array.array("d")
    for r in results:
        lat.extend(r[0])
    out.put((lat.tobytes(), *(sum(r[k] for r in results) for k in range(1, 5)),
             next((r[5] for r in results if r[5]), "")))


# ---------------------------------------------------------------------------------------------- one run


@dataclass
class Run:
    store: str
    devices: int
    mode: str
    seconds: float
    latencies: np.ndarray
    pushes_all: int  # every answered push, warm-up included
    complete: int
    assembled: int
    errors: int
    first_error: str
    server_cpu: float  # CPU seconds of this process (the server) during the measured window
    client_cpu: float  # ... of the device process
    postgres_cpu: float  # ... of every PostgreSQL process (its backends; other users' queries included)
    other_cpu: float  # ... of everything else on the machine
    counts: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1e3 if len(self.latencies) else float("nan")

    @property
    def cpu_us(self) -> float:
        return self.server_cpu / max(1, len(self.latencies)) * 1e6


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine so far (its backends do a run's SQL)."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if (d / "comm").read_text().strip() == "postgres":
                    total += proc_cpu(int(d.name))
    return total


def machine_busy() -> float:
    """user + nice + system + irq CPU seconds of the machine. Not softirq: on loopback that is mostly this run's
    own traffic, which no process is charged for."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:3]) + fields[5]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def wait_for_quiet(cores: float, longest: float, window: float = 2.0) -> float:
    """Before a run (nothing of this run is working then): wait until the machine's processes use under `cores`
    over `window` seconds, `longest` seconds at most. Returns the seconds waited."""
    started = time.monotonic()
    while True:
        a = machine_busy()
        time.sleep(window)
        if (machine_busy() - a) / window < cores or time.monotonic() - started >= longest:
            return time.monotonic() - started


def cpu_snapshot(client_pid: int) -> tuple[float, float, float, float]:
    return own_cpu(), proc_cpu(client_pid), postgres_cpu(), machine_busy()


def postgres_database(admin: str) -> tuple[str, Callable[[], None]]:
    """A fresh database next to `admin`'s (as tests/server/stores.py makes one) and a function that drops it."""
    import psycopg

    name = f"varde_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def table_counts(url: str) -> dict:
    sql = {t: f"SELECT count(*) FROM {t}" for t in COUNTED_TABLES}
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as conn:
            return {t: conn.execute(q).fetchone()[0] for t, q in sql.items()}
    with contextlib.closing(sqlite3.connect(url)) as conn:
        return {t: conn.execute(q).fetchone()[0] for t, q in sql.items()}


@contextlib.contextmanager
def server(queue: str, window_s: float, watch_every: float):
    from varde.clients.client import VardeClient
    from varde.server.app import create_server
    from varde.server.config import Settings
    from varde.server.metrics import Metrics

    settings = Settings(address=f"{HOST}:0", queue=queue, assembly_window_seconds=window_s, metrics_port=None,
                        escalate_every_seconds=watch_every)
    srv, port = create_server(settings.address, settings, Metrics())
    srv.start()
    address = f"{HOST}:{port}"
    try:
        with VardeClient(address) as c:
            c.wait_until_serving()
        yield address
    finally:
        srv.varde.shutdown(srv, 0)


def run_one(store: str, queue: str, devices: int, mode: str, args) -> Run:
    ctx = mp.get_context("spawn")  # never fork a process that has gRPC running
    back_us = int(START_BACK_PUSHES * MINUTE_US * (1 + args.gap_minutes / len(DEVICES)))
    t0_us = (time.time_ns() // 1000 - back_us) // MINUTE_US * MINUTE_US
    with server(queue, WINDOW_S if mode == "assembled" else 0.0, args.watch_every) as address:
        out, ctrl = ctx.Queue(), ctx.Queue()
        proc = ctx.Process(target=_device_process,
                           args=(address, list(range(devices)), args.patients, args.prime, args.seed, t0_us,
                                 args.gap_minutes, out, ctrl),
                           daemon=True)
        proc.start()
        try:
            if out.get(timeout=300) != "ready":
                raise RuntimeError("the device process did not start")
            start_at = time.monotonic() + args.warmup
            stop_at = start_at + args.seconds
            ctrl.put((start_at, stop_at))
            time.sleep(max(0.0, start_at - time.monotonic()))
            cpu0 = cpu_snapshot(proc.pid)
            time.sleep(max(0.0, stop_at - time.monotonic()))
            cpu1 = cpu_snapshot(proc.pid)
            blob, pushes, complete, assembled, errors, first = out.get(timeout=120 + args.seconds)
            proc.join(30)
        finally:
            if proc.is_alive():
                proc.terminate()
                proc.join()
    lat = np.frombuffer(blob, dtype=np.float64)
    server_cpu, client_cpu, pg_cpu, busy = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    return Run(store, devices, mode, args.seconds, lat, pushes, complete, assembled, errors, first, server_cpu,
               client_cpu, pg_cpu, max(0.0, busy - server_cpu - client_cpu - pg_cpu), table_counts(queue))


def fresh_queue(store: str, admin: str | None, scratch: Path) -> tuple[str, Callable[[], None]]:
    if store == "sqlite":
        path = scratch / f"queue-{uuid.uuid4().hex[:8]}.sqlite3"

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return str(path), remove
    return postgres_database(admin)


# ---------------------------------------------------------------------------------------------- profile


class Sections:
    """Wall time (or the thread's CPU time) of named server functions per call, nested by thread (a section inside
    another is its child). Installed by replacing the functions on their classes and modules, in this process only;
    nothing is edited. Wall time under load includes waiting for the GIL; CPU time does not."""

    clock = staticmethod(time.perf_counter)

    def __init__(self):
        self.total: dict[tuple[str, ...], float] = defaultdict(float)
        self.calls: dict[tuple[str, ...], int] = defaultdict(int)
        self.local = threading.local()
        self.undo: list[tuple[object, str, object]] = []

    def _stack(self) -> list[str]:
        if not hasattr(self.local, "stack"):
            self.local.stack = []
        return self.local.stack

    @contextlib.contextmanager
    def section(self, name: str):
        stack = self._stack()
        stack.append(name)
        key = tuple(stack)
        t = self.clock()
        try:
            yield
        finally:
            self.total[key] += self.clock() - t
            self.calls[key] += 1
            stack.pop()

    def wrap(self, owner, attr: str, name: str) -> None:
        """Time `owner.attr` as `name`; a function this version of the server does not have is skipped."""
        if attr not in vars(owner):
            return
        orig = vars(owner)[attr]
        sections = self

        def timed(*a, **kw):
            with sections.section(name):
                return orig(*a, **kw)

        self.undo.append((owner, attr, orig))
        setattr(owner, attr, timed)

    def wrap_transaction(self, owner) -> None:
        """BEGIN (with the wait for the store's lock or a connection) and COMMIT as sections of their own."""
        orig = owner.__dict__["transaction"]
        sections = self

        @contextlib.contextmanager
        def transaction(store, *, write: bool = True, pipeline: bool = False):
            cm = orig(store, write=write, pipeline=pipeline)
            with sections.section("BEGIN (waiting for the store included)"):
                cur = cm.__enter__()
            try:
                yield cur
            except BaseException:
                if not cm.__exit__(*sys.exc_info()):
                    raise
            else:
                with sections.section("COMMIT" if write else "end of read transaction"):
                    cm.__exit__(None, None, None)

        self.undo.append((owner, "transaction", orig))
        owner.transaction = transaction

    def restore(self) -> None:
        for owner, attr, orig in reversed(self.undo):
            setattr(owner, attr, orig)
        self.undo.clear()

    def reset(self) -> None:
        self.total.clear()
        self.calls.clear()


def install_sections(store_cls, cpu: bool = False) -> Sections:
    from varde.server.flags import assembly, isbar, rules
    from varde.server.flags import follow_up as fu
    from varde.server.flags import queue as q
    from varde.server.services import observations as o
    from varde.server.store import _follow_up, _patients, base

    s = Sections()
    if cpu:
        s.clock = time.thread_time
    s.wrap(o.ObservationsService, "_assess", "push handler (ObservationsService._assess)")
    s.wrap(_patients.PatientSettingsStore, "settings_for", "Store.settings_for (patient settings, own read txn)")
    s.wrap(o, "score_observations", "score_observations (protobuf -> numpy -> serial NEWS2 kernel)")
    s.wrap(o, "assessments", "assessments (Assessment messages)")
    s.wrap(o, "_table", "_table (scored rows as Arrow for the queue)")
    s.wrap(o, "_observation", "_observation (a set as an Observation)")
    s.wrap(q.FlagQueue, "record", "FlagQueue.record (plain)")
    s.wrap(q.FlagQueue, "record_readings", "FlagQueue.record_readings (assembled)")
    s.wrap(base.Store, "audit_call", "Store.audit_call (audit row)")
    s.wrap(store_cls, "_lock_patients", "Store._lock_patients (trend state read)")
    s.wrap(store_cls if "_lock_patient_keys" in store_cls.__dict__ else _follow_up.FollowUpStore,
           "_lock_patient_keys", "Store._lock_patient_keys (per-patient lock)")
    s.wrap(_follow_up.FollowUpStore, "assembly_reads", "Store.assembly_reads (readings, settings, follow-up, flags)")
    s.wrap(_follow_up.FollowUpStore, "readings_between", "Store.readings_between (readings in the window)")
    s.wrap(q, "_assemble", "queue._assemble (decode JSON, assemble the sets)")
    s.wrap(_follow_up.FollowUpStore, "insert_readings", "Store.insert_readings (reading INSERT)")
    s.wrap(rules, "prepare", "rules.prepare")
    s.wrap(rules, "trend", "rules.trend")
    s.wrap(rules, "trend_sets", "rules.trend_sets")
    s.wrap(rules, "findings", "rules.findings")
    s.wrap(q, "_not_resolved_before", "queue._not_resolved_before (findings of resolved sets dropped)")
    s.wrap(_follow_up.FollowUpStore, "mark_sets", "Store.mark_sets (the set of each flag)")
    s.wrap(fu.FollowUp, "with_isbar", "FollowUp.with_isbar (ISBAR of the findings)")
    s.wrap(fu, "_risk", "follow_up._risk (SELECT)")
    s.wrap(fu, "_older_readings", "follow_up._older_readings (SELECT)")
    s.wrap(assembly, "previous_values", "assembly.previous_values")
    s.wrap(isbar, "build", "isbar.build (the message's facts and texts)")
    s.wrap(_follow_up.FollowUpStore, "follow_up_of", "Store.follow_up_of (SELECT)")
    s.wrap(_follow_up.FollowUpStore, "save_follow_up", "Store.save_follow_up (upsert)")
    s.wrap(_follow_up.FollowUpStore, "clear_overdue", "Store.clear_overdue")
    s.wrap(base.Store, "commit_batch", "Store.commit_batch (trend state, flag upsert, events, batch row)")
    s.wrap(fu.FollowUp, "after_sets", "FollowUp.after_sets (newest set, due time, overdue cleared)")
    s.wrap(base.Store, "forget_batches", "Store.forget_batches (every 1000th call)")
    s.wrap(_follow_up.FollowUpStore, "forget_readings", "Store.forget_readings (every 1000th call)")
    s.wrap_transaction(store_cls)
    return s


def profile_rows(s: Sections, pushes: int) -> list[tuple[str, ...]]:
    """Rows of the section tree: per push, µs and share of the handler; 'self' lines for what no section covers."""
    root = next((k for k in s.total if len(k) == 1 and k[0].startswith("push handler")), None)
    if root is None:
        return []
    handler = s.total[root]
    rows = []

    def walk(key: tuple[str, ...], depth: int) -> None:
        children = sorted((k for k in s.total if len(k) == len(key) + 1 and k[:-1] == key),
                          key=lambda k: -s.total[k])
        t = s.total[key]
        calls = s.calls[key] / pushes
        rows.append(("&nbsp;" * 4 * depth + key[-1], f"{t / pushes * 1e6:,.0f}", f"{t / handler * 100:.1f} %",
                     f"{calls:.2g}"))
        for k in children:
            if s.total[k] / handler >= 0.005:
                walk(k, depth + 1)
        if any(s.total[k] / handler >= 0.005 for k in children):
            rest = t - sum(s.total[k] for k in children)
            rows.append(("&nbsp;" * 4 * (depth + 1) + "(the rest: not in a section above)",
                         f"{rest / pushes * 1e6:,.0f}", f"{rest / handler * 100:.1f} %", ""))

    walk(root, 0)
    return rows


QUEUE_CALL = "FlagQueue.record / record_readings"


def flat_sections(s: Sections, pushes: int) -> dict[tuple[str, ...], float]:
    """µs per push by section path, for the handler and two levels under it (the queue's call under one name)."""
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for key, t in s.total.items():
        if key[0].startswith("push handler") and len(key) <= 3:
            out[tuple(QUEUE_CALL if n.startswith("FlagQueue.record") else n for n in key)] += t / pushes * 1e6
    return out


def extra_rows(sections: dict[str, dict[tuple[str, ...], float]]) -> list[tuple[str, ...]]:
    """Per section: plain and assembled µs per push and the difference; the handler, what is directly in it, then
    what is inside the queue's call, each level by the extra it costs, with what no section covers."""
    plain, assembled = sections.get("plain", {}), sections.get("assembled", {})
    handler = next((k for k in assembled if len(k) == 1), None)
    if handler is None:
        return []
    extra = assembled[handler] - plain.get(handler, 0.0)
    rows = []

    def row(label: str, p: float, a: float) -> None:
        rows.append((label, f"{p:,.0f}", f"{a:,.0f}", f"{a - p:+,.0f}",
                     f"{(a - p) / extra * 100:.0f} %" if extra > 0 else "-"))

    def level(parent: tuple[str, ...], indent: str) -> None:
        keys = {k for k in (*plain, *assembled) if len(k) == len(parent) + 1 and k[:-1] == parent}
        for k in sorted(keys, key=lambda k: -(assembled.get(k, 0.0) - plain.get(k, 0.0))):
            p, a = plain.get(k, 0.0), assembled.get(k, 0.0)
            if max(p, a) >= 10:
                row(indent + k[-1], p, a)
        if keys:
            row(indent + "(the rest: not in a section above)",
                plain.get(parent, 0.0) - sum(plain.get(k, 0.0) for k in keys),
                assembled.get(parent, 0.0) - sum(assembled.get(k, 0.0) for k in keys))

    row(handler[0], plain.get(handler, 0.0), assembled[handler])
    level(handler, "&nbsp;" * 4)
    rows.append(("inside " + QUEUE_CALL + ":", "", "", "", ""))
    level((*handler, QUEUE_CALL), "&nbsp;" * 4)
    return rows


def run_profile(store: str, admin: str | None, scratch: Path, args) -> list[str]:
    from varde.server.services import observations as o
    from varde.server.store import open_store

    probe_url, cleanup = fresh_queue(store, admin, scratch)
    probe = open_store(probe_url)
    store_cls = type(probe)
    probe.close()
    cleanup()
    what = "the handler thread's CPU time" if args.profile_clock == "cpu" else "wall time"
    out = [f"Profile: {store}, {args.profile_devices} device(s), {args.seconds:g} s per mode; {what} inside "
           "the server per push (sections nest; timers cost ~1 µs each)."]
    tables, sections = {}, {}
    for mode in MODES:
        s = install_sections(store_cls, cpu=args.profile_clock == "cpu")
        queue, cleanup = fresh_queue(store, admin, scratch)
        try:
            s.reset()
            if args.quiet_wait > 0:
                wait_for_quiet(args.quiet_cores, args.quiet_wait)
            r = run_one(store, queue, args.profile_devices, mode, args)
        finally:
            s.restore()
            cleanup()
        # sections count warm-up pushes too: per push = over every answered push
        tables[mode] = (r, profile_rows(s, r.pushes_all))
        sections[mode] = flat_sections(s, r.pushes_all)
    out.append("")
    out.append("Where the assembled push's extra time goes (same sections, µs per push; the queue's call is "
               "FlagQueue.record when plain, record_readings when assembled):")
    out.append("")
    out.append(fmt_table(("section", "plain", "assembled", "extra", "share of the extra"),
                         extra_rows(sections), args.markdown))
    for mode, (r, rows) in tables.items():
        out.append("")
        out.append(f"{mode}: {r.rate:,.0f} pushes/s, p50 {r.pct(50):.2f} ms, server CPU {r.cpu_us:,.0f} µs/push "
                   "(the handler is part of it; gRPC, decoding and the client's wait are the rest)")
        out.append("")
        out.append(fmt_table(("section", "µs/push", "% of handler", "calls/push"), rows, args.markdown))

    # cProfile over the assembled handler: which functions the time goes to (deterministic profiler overhead
    # inflates Python-heavy code; read the shares, not the µs).
    prof = cProfile.Profile()
    lock = threading.Lock()
    orig = o.ObservationsService.__dict__["_assess"]

    def profiled(*a, **kw):
        with lock:
            prof.enable()
            try:
                return orig(*a, **kw)
            finally:
                prof.disable()

    o.ObservationsService._assess = profiled
    queue, cleanup = fresh_queue(store, admin, scratch)
    if args.quiet_wait > 0:
        wait_for_quiet(args.quiet_cores, args.quiet_wait)
    try:
        r = run_one(store, queue, args.profile_devices, "assembled", args)
    finally:
        o.ObservationsService._assess = orig
        cleanup()
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values())  # tottime over every function = time profiled
    top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[: args.profile_top]
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in top:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if line else file
        rows.append((f"`{func}`", where, f"{nc / r.pushes_all:.3g}", f"{tt / total * 100:.1f} %",
                     f"{ct / total * 100:.1f} %"))
    out.append("")
    out.append(f"cProfile, assembled, {args.profile_devices} device(s): top {args.profile_top} functions by own time "
               f"({r.pushes_all:,} pushes profiled; shares of the profiled handler time):")
    out.append("")
    out.append(fmt_table(("function", "where", "calls/push", "own time", "cumulative"), rows, args.markdown))
    return out


# ---------------------------------------------------------------------------------------------- report


def machine_line(postgres: str | None) -> str:
    import grpc
    import numba
    import pyarrow as pa

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    versions = [f"grpcio {grpc.__version__}", f"numpy {np.__version__}", f"numba {numba.__version__}",
                f"pyarrow {pa.__version__}", f"SQLite {sqlite3.sqlite_version}"]
    if postgres:
        import psycopg

        with contextlib.suppress(Exception), psycopg.connect(postgres, connect_timeout=5) as conn:
            server_version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
            versions.append(f"PostgreSQL {server_version} (local, psycopg {psycopg.__version__})")
    return f"{cpu}, {os.cpu_count()} cores, {ram} RAM; Python {platform.python_version()}, {', '.join(versions)}"


def code_line() -> str:
    """The commit measured, and whether the server's files differed from it (others may be editing them)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, check=False).stdout.strip()

    head = git("log", "-1", "--format=%h %s")[:90]
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
             if line[3:].startswith(("server/", "scoring/", "clients/"))]
    if not head:
        return "Varde: not a git checkout"
    return f"Varde at {head!r}" + (f", with uncommitted changes to {', '.join(dirty)}" if dirty else "")


def fmt_table(header: tuple[str, ...], rows: list[tuple[str, ...]], markdown: bool) -> str:
    """Numbers right-aligned, text columns left-aligned."""
    left = {i for i, h in enumerate(header)
            if i == 0 or h in ("store", "mode", "target", "where", "function", "each run")}
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if i in left else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    rows = [tuple(c.replace("&nbsp;", " ") for c in r) for r in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  " + "  ".join(c.ljust(w) if i in left else c.rjust(w)
                                      for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in [header, *rows])


RUN_HEADER = ("store", "devices", "mode", "pushes/s", "each run", "p50 ms", "p99 ms", "server CPU µs/push",
              "server cores",
              "PostgreSQL µs/push", "other processes' cores", "complete sets answered", "errors")
RATIO_HEADER = ("store", "devices", "assembled / plain pushes/s", "cost (1 - ratio)", "target", "p99 assembled / plain",
                "server CPU/push assembled / plain")
WORK_HEADER = ("store", "devices", "mode", "pushes answered", "readings", "patients with a newest set", "flags",
               "flag events", "batches")


def best_runs(runs: list[Run]) -> list[Run]:
    """Per (store, devices, mode), the run with the most pushes/s, in first-run order."""
    best: dict = {}
    for r in runs:
        key = (r.store, r.devices, r.mode)
        if key not in best or r.rate > best[key].rate:
            best[key] = r
    return list(best.values())


def run_rows(runs: list[Run], all_runs: list[Run]) -> list[tuple[str, ...]]:
    def every(r: Run) -> str:
        rates = [f"{x.rate:,.0f}" for x in all_runs if (x.store, x.devices, x.mode) == (r.store, r.devices, r.mode)]
        return " / ".join(rates)

    return [(r.store, str(r.devices), r.mode, f"{r.rate:,.0f}", every(r), f"{r.pct(50):.2f}", f"{r.pct(99):.2f}",
             f"{r.cpu_us:,.0f}", f"{r.server_cpu / r.seconds:.2f}",
             f"{r.postgres_cpu / max(1, len(r.latencies)) * 1e6:,.0f}" if r.store == "postgresql" else "-",
             f"{r.other_cpu / r.seconds:.2f}", f"{r.complete / max(1, len(r.latencies)) * 100:.0f} %", str(r.errors))
            for r in runs]


def ratio_rows(runs: list[Run]) -> tuple[list[tuple[str, ...]], list[bool]]:
    by = {(r.store, r.devices, r.mode): r for r in runs}
    rows, met = [], []
    for (store, n, mode), a in by.items():
        p = by.get((store, n, "plain"))
        if mode != "assembled" or p is None:
            continue
        ratio = a.rate / p.rate
        cost = 1 - ratio
        met.append(cost < TARGET_COST)
        rows.append((store, str(n), f"{ratio:.2f}x", f"{cost * 100:.0f} %",
                     "met" if cost < TARGET_COST else "not met", f"{a.pct(99) / p.pct(99):.2f}x",
                     f"{a.cpu_us / p.cpu_us:.2f}x"))
    return rows, met


def work_rows(runs: list[Run]) -> list[tuple[str, ...]]:
    return [(r.store, str(r.devices), r.mode, f"{r.pushes_all:,}", f"{r.counts.get('readings', 0):,}",
             f"{r.counts.get('follow_up', 0):,}", f"{r.counts.get('flags', 0):,}",
             f"{r.counts.get('flag_events', 0):,}", f"{r.counts.get('batches', 0):,}") for r in runs]


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", default="1,8,64",
                    help="device counts, comma-separated: concurrent device threads, one push in flight each "
                         "(default: %(default)s)")
    ap.add_argument("--patients", type=int, default=4, help="patients per device (default: %(default)s)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default: %(default)s)")
    ap.add_argument("--gap-minutes", type=float, default=0.0,
                    help="measurement time skipped after each patient's round of the four devices (default: 0, a "
                         "reading a minute, the densest history: ~30 readings in the window, 200 read back for "
                         "ISBAR; 240: a round every four hours, as LOW-band patients at home are measured)")
    ap.add_argument("--prime", type=int, default=len(DEVICES),
                    help="unmeasured pushes per patient before the warm-up (default: %(default)s, one round of the "
                         "four devices, so that the measured pushes find full sets in the window, as a patient at "
                         "home does after the first half hour)")
    ap.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds before each run (default: 1.5)")
    ap.add_argument("--repeat", type=int, default=2,
                    help="sweeps; each (store, devices, mode) keeps its best run by pushes/s (default: %(default)s)")
    ap.add_argument("--postgres", metavar="URL",
                    help="also on PostgreSQL: an admin URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres); a "
                         "fresh database is created per run and dropped after")
    ap.add_argument("--quiet-cores", type=float, default=0.2,
                    help="before each run, wait until other processes use fewer cores than this (default: "
                         "%(default)s) ...")
    ap.add_argument("--quiet-wait", type=float, default=5.0,
                    help="... for this many seconds at most (default: %(default)s; 0: do not wait)")
    ap.add_argument("--stores", help="which stores, comma-separated, of sqlite and postgresql (default: sqlite, and "
                                     "postgresql with --postgres)")
    ap.add_argument("--watch-every", type=float, default=3600.0,
                    help="the server's escalation and overdue watchers' period in seconds (default: %(default)s; "
                         "see above why not the server's 5 s)")
    ap.add_argument("--profile", action="store_true",
                    help="then time the sections of the push path in the server, both modes, and cProfile the "
                         "assembled one (on PostgreSQL when --postgres is given, else SQLite)")
    ap.add_argument("--profile-only", action="store_true", help="--profile without the benchmark table")
    ap.add_argument("--profile-devices", type=int, default=1, help="devices for --profile (default: 1)")
    ap.add_argument("--profile-clock", choices=("wall", "cpu"), default="wall",
                    help="what --profile's sections measure: wall time (GIL waits included) or the handler thread's "
                         "CPU time (default: %(default)s)")
    ap.add_argument("--profile-top", type=int, default=15, help="functions listed by cProfile (default: 15)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables (for benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    devices = [int(d) for d in args.devices.split(",") if d.strip()]
    stores = (args.stores.split(",") if args.stores else ["sqlite"] + (["postgresql"] if args.postgres else []))
    if set(stores) - {"sqlite", "postgresql"} or ("postgresql" in stores and not args.postgres):
        ap.error("--stores takes sqlite and postgresql; postgresql needs --postgres URL")
    scratch = Path(tempfile.mkdtemp(prefix="bench-home-"))
    import logging

    logging.basicConfig(level=logging.WARNING)  # the server's warnings (no TLS on 127.0.0.1) once, not per run
    logging.getLogger("varde").setLevel(logging.ERROR)

    started = time.monotonic()
    code = code_line()  # before the server's modules are imported: what this run measures
    runs: list[Run] = []
    try:
        if not args.profile_only:
            for k in range(args.repeat):  # the whole sweep again, so that a noisy minute hits one run of each
                for store in stores:
                    for n in devices:
                        for mode in MODES:
                            queue, cleanup = fresh_queue(store, args.postgres, scratch)
                            if args.quiet_wait > 0:
                                wait_for_quiet(args.quiet_cores, args.quiet_wait)
                            try:
                                r = run_one(store, queue, n, mode, args)
                            finally:
                                cleanup()
                            runs.append(r)
                            print(f"  {k + 1}/{args.repeat} {store:<10} {n:>3} devices {mode:<9} {r.rate:7,.0f} "
                                  f"pushes/s  p50 {r.pct(50):6.2f} ms  p99 {r.pct(99):7.2f} ms  {r.cpu_us:6,.0f} µs "
                                  f"CPU/push  others {r.other_cpu / r.seconds:.2f} cores"
                                  + (f"  {r.errors} errors ({r.first_error})" if r.errors else ""),
                                  file=sys.stderr, flush=True)
        profile = []
        if args.profile or args.profile_only:
            profile = run_profile(stores[-1], args.postgres, scratch, args)
    finally:
        with contextlib.suppress(OSError):
            for p in scratch.iterdir():
                p.unlink()
            scratch.rmdir()

    md = args.markdown
    if runs:
        all_runs, runs = runs, best_runs(runs)
        print(f"{len(devices)} device counts x {len(stores)} store(s) x plain/assembled, best of {args.repeat} by "
              f"pushes/s (the sweeps interleaved); {args.patients} patients per device, {args.prime} unmeasured "
              f"pushes per patient first, {args.seconds:g} s measured after {args.warmup:g} s warm-up per run; "
              f"window {WINDOW_S:g} s when assembled; measurement times 1 minute apart"
              + (f", {args.gap_minutes:g} minutes more after each round of the four devices" if args.gap_minutes
                 else "") + ".\n")
        print(fmt_table(RUN_HEADER, run_rows(runs, all_runs), md))
        rows, met = ratio_rows(runs)
        print(f"\nAssembled against plain (target: cost < {TARGET_COST * 100:.0f} % of plain push throughput):\n")
        print(fmt_table(RATIO_HEADER, rows, md))
        print("\nWhat the store holds after each run (warm-up pushes included; a push is one batch; plain pushes "
              "store no reading and no newest set):\n")
        print(fmt_table(WORK_HEADER, work_rows(runs), md))
        print(f"\nTarget (assembly costs < {TARGET_COST * 100:.0f} % of plain push throughput): "
              f"{'met' if all(met) else 'not met'} (met at {sum(met)} of {len(met)} store/device counts).")
    if profile:
        print()
        print("\n".join(profile))
    print(f"\nMachine: {machine_line(args.postgres)}. {code}. Total time {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
