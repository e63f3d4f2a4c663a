"""Flag stores: one interface (base.Store), an embedded SQLite file and PostgreSQL for several servers."""

from __future__ import annotations

from .base import ClaimConflict, FlagNotFound, FlagRow, Store, StoreError

__all__ = ["ClaimConflict", "FlagNotFound", "FlagRow", "Store", "StoreError", "open_store"]


def open_store(url: str) -> Store:
    """`postgresql://...` (or `postgres://`), `sqlite:///path`, or a plain file path (SQLite)."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    from .sqlite import SQLiteStore

    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return SQLiteStore(path)
