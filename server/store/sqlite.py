"""The embedded store: one SQLite file in WAL mode with synchronous commits, for `varde serve` with no setup."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from ._schema import migrations
from .base import STAGED_COLUMNS, Store, StoreError

__all__ = ["SQLiteStore"]


class SQLiteStore(Store):
    """One connection behind a lock: SQLite runs one writer at a time anyway, and commits are what cost."""

    placeholder = "?"
    greatest = "max"
    migrations = migrations("sqlite")

    def __init__(self, path: str | Path):
        self.path = str(path)
        parent = Path(self.path).resolve().parent
        if not parent.is_dir():
            raise StoreError(f"cannot create the queue file {self.path!r}: the folder {str(parent)!r} does not exist")
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")  # a flag acknowledged is on disk
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the queue file {self.path!r}: {e}") from None
        self._lock = threading.RLock()
        self.migrate()

    @contextmanager
    def transaction(self, *, write: bool = True, pipeline: bool = False):
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def _lock_patients(self, cur, unit, patients, table):
        out = []
        for start in range(0, len(patients), 900):  # SQLite's limit on bound parameters
            part = patients[start:start + 900]
            out += cur.execute(f"SELECT patient_id, state FROM {table} WHERE unit = ? AND patient_id IN "
                               f"({', '.join('?' * len(part))})", (unit, *part)).fetchall()
        return out

    def _stage(self, cur, f):
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS staged (patient_id TEXT, kind TEXT, severity INTEGER, "
                    "assessment TEXT, worst_total INTEGER, occurrences INTEGER, isbar TEXT, set_started_at INTEGER)")
        cur.execute("DELETE FROM staged")
        self._insert_rows(cur, "staged", STAGED_COLUMNS, f.rows())
        cur.execute("CREATE INDEX IF NOT EXISTS temp.staged_key ON staged (patient_id, kind)")
        return "staged", ()

    def _claim_next_id(self, cur, unit):
        row = cur.execute("SELECT id FROM flags WHERE unit = ? AND state = 'OPEN' ORDER BY severity DESC, "
                          "created_at, id LIMIT 1", (unit,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
