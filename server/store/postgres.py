"""The production store: PostgreSQL, shared by several server processes."""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager

from ._schema import migrations
from .base import STAGED_COLUMNS, Store, StoreError

__all__ = ["PostgresStore"]

# Arbitrary constants naming Varde's advisory locks.
_MIGRATION_LOCK = 0x7661726465_01
_EVENT_LOCK = 0x7661726465_02
# Up to this many findings or patients' states go into their upsert as a VALUES list; more, through a staging table.
_INLINE_ROWS = 16
_STAGED_TYPES = ("text", "text", "bigint", "text", "bigint", "bigint", "text", "bigint")


class PostgresStore(Store):
    """A small pool of connections. Claims take rows with FOR UPDATE SKIP LOCKED; a unique index keeps one open
    flag per patient and kind across every server; event writers take an advisory lock so that watchers see
    cursors in commit order."""

    placeholder = "%s"
    greatest = "GREATEST"
    blob = "BYTEA"
    migrations = migrations("postgresql")

    def __init__(self, url: str, pool_size: int = 8):
        try:
            import psycopg
        except ImportError:
            raise StoreError("a postgresql:// queue needs psycopg: pip install 'varde[postgresql]'") from None
        self._psycopg = psycopg
        self.url = url
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._size = pool_size
        self._made = 0
        self._made_lock = threading.Lock()
        self._closed = False
        self.migrate()

    def _connect(self):
        try:
            # Fail fast when the database is away: the caller gets UNAVAILABLE and retries, not a hung worker.
            return self._psycopg.connect(self.url, autocommit=False, connect_timeout=5)
        except self._psycopg.OperationalError as e:
            raise StoreError(f"cannot connect to the PostgreSQL queue: {str(e).strip()}") from None

    @contextmanager
    def _connection(self):
        conn = None
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            with self._made_lock:
                make = self._made < self._size
                if make:
                    self._made += 1
            if make:
                try:
                    conn = self._connect()
                except BaseException:
                    with self._made_lock:
                        self._made -= 1
                    raise
            else:
                conn = self._pool.get()
        broken = False
        try:
            yield conn
        except self._psycopg.OperationalError:
            broken = True
            raise
        finally:
            if broken or conn.closed or self._closed:
                conn.close()
                with self._made_lock:
                    self._made -= 1
            else:
                self._pool.put(conn)

    @contextmanager
    def transaction(self, *, write: bool = True, pipeline: bool = False):
        with self._connection() as conn:
            if not pipeline:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
                return
            # A statement whose result is not read goes out without waiting for the one before it to answer: a
            # push's dozen or two statements cost a few round trips instead of one each.
            with conn.pipeline(), conn.transaction(), conn.cursor() as cur:
                yield cur

    def _lock_migrations(self, cur):
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    def _lock_settings(self, cur, unit, patient_id):
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{unit}\x1f{patient_id}",))

    def _lock_patient_keys(self, cur, unit, patients):
        # in the order given (sorted by the caller), so that two transactions never wait on each other in a ring
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(%s::text[]) AS k",
                    ([f"{unit}\x1f{p}" for p in patients],))

    @staticmethod
    def _seen_query(unit, batch_id, lock):
        if not lock:
            return "SELECT EXISTS (SELECT 1 FROM batches WHERE unit = %s AND batch_id = %s)", (unit, batch_id)
        # one statement for both: the patients' locks (in the order given), then whether the batch was seen
        return ("SELECT (SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                "FROM unnest(%s::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n) AS l), "
                "EXISTS (SELECT 1 FROM batches WHERE unit = %s AND batch_id = %s)",
                ([f"{unit}\x1f{p}" for p in lock], unit, batch_id))

    @staticmethod
    def _lock_patients_query(unit, patients, table):
        return (f"SELECT patient_id, state FROM {table} WHERE unit = %s AND patient_id = ANY(%s) "
                "ORDER BY patient_id FOR UPDATE", (unit, patients))

    def _seen_batch(self, cur, unit, batch_id, lock):
        return bool(cur.execute(*self._seen_query(unit, batch_id, lock)).fetchone()[-1])

    def _open_batch(self, cur, unit, batch_id, patients, table, lock, reads):
        if not self._piped(cur) or not patients:
            return super()._open_batch(cur, unit, batch_id, patients, table, lock, reads)
        # One round trip: the locks and whether the batch was seen, the patients' rows, the reads (they run, and
        # are dropped, for a batch seen before: a read costs less than a round trip).
        cursors = [cur.connection.cursor() for _ in range(1 + len(reads))]
        try:
            cur.execute(*self._seen_query(unit, batch_id, lock))
            cursors[0].execute(*self._lock_patients_query(unit, patients, table))
            for c, (text, params) in zip(cursors[1:], reads, strict=True):
                c.execute(self._sql(text), params)
            if cur.fetchone()[-1]:  # (the locks' count,) whether the batch was seen
                return None
            return dict(cursors[0].fetchall()), [c.fetchall() for c in cursors[1:]]
        finally:
            for c in cursors:
                c.close()

    def _piped(self, cur) -> bool:
        return cur.connection.pgconn.pipeline_status != self._psycopg.pq.PipelineStatus.OFF

    def _read_many(self, cur, queries):
        if not self._piped(cur) or len(queries) < 2:
            return super()._read_many(cur, queries)
        cursors = [cur.connection.cursor() for _ in queries[1:]]
        try:  # every statement is sent; the first answer read waits for all of them at once
            for c, (text, params) in zip([cur, *cursors], queries, strict=True):
                c.execute(self._sql(text), params)
            return [c.fetchall() for c in [cur, *cursors]]
        finally:
            for c in cursors:
                c.close()

    def _lock_events(self, cur):
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_EVENT_LOCK,))

    def _lock_patients(self, cur, unit, patients, table):
        return cur.execute(*self._lock_patients_query(unit, patients, table)).fetchall()

    def _stage(self, cur, f):
        rows = list(f.rows())
        if len(rows) <= _INLINE_ROWS:
            # A push's few findings: a VALUES list in the upsert itself. A temporary table costs ~1 ms a commit
            # here (its CREATE .. IF NOT EXISTS, TRUNCATE and ON COMMIT truncation change the catalogue).
            row = "(" + ", ".join(f"%s::{t}" for t in _STAGED_TYPES) + ")"
            return (f"(VALUES {', '.join([row] * len(rows))}) AS staged ({', '.join(STAGED_COLUMNS)})",
                    [v for r in rows for v in r])
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS staged (patient_id TEXT, kind TEXT, severity BIGINT, "
                    "assessment TEXT, worst_total BIGINT, occurrences BIGINT, isbar TEXT, set_started_at BIGINT) "
                    "ON COMMIT DELETE ROWS")
        cur.execute("TRUNCATE staged")
        self._insert_rows(cur, "staged", STAGED_COLUMNS, rows)
        return "staged", ()

    def _insert_rows(self, cur, table, columns, rows):
        rows = rows if isinstance(rows, list) else list(rows)
        piped = self._piped(cur)
        if len(rows) <= 16 or piped:  # a push's few rows: one INSERT costs less than COPY's extra round trips
            for start in range(0, len(rows), 1000):  # (and COPY cannot run in a pipeline)
                part = rows[start:start + 1000]
                values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(part))
                cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}",
                            [v for row in part for v in row])
            return
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _save_states(self, cur, rows, table):
        if len(rows) <= _INLINE_ROWS:  # a push's few patients: one upsert, no staging table (see _stage)
            rows = sorted(rows, key=lambda r: r[1])  # the order the patients' rows are locked in
            values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
            cur.execute(f"INSERT INTO {table} (unit, patient_id, state, updated_at) VALUES {values} ON CONFLICT "
                        "(unit, patient_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                        [v for r in rows for v in r])
            return
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS staged_state (unit TEXT, patient_id TEXT, state BYTEA, "
                    "updated_at BIGINT) ON COMMIT DELETE ROWS")
        cur.execute("TRUNCATE staged_state")
        self._insert_rows(cur, "staged_state", ("unit", "patient_id", "state", "updated_at"), rows)
        cur.execute(f"INSERT INTO {table} (unit, patient_id, state, updated_at) SELECT unit, patient_id, state, "
                    "updated_at FROM staged_state ORDER BY patient_id ON CONFLICT (unit, patient_id) DO UPDATE SET "
                    "state = excluded.state, updated_at = excluded.updated_at")

    def _claim_next_id(self, cur, unit):
        row = cur.execute("SELECT id FROM flags WHERE unit = %s AND state = 'OPEN' ORDER BY severity DESC, "
                          "created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED", (unit,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break
