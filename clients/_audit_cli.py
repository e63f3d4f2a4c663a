"""`varde audit`: who read or changed which flag, and who scored which batch, from the queue's own store."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys

__all__ = ["add_parser"]

_EXAMPLES = """\
examples:
  varde audit                                   # the last 1000 entries of ./varde-queue.sqlite3
  varde audit --since 24h --patient 13097248022 # who touched this patient's flags in the last day
  varde audit --queue postgresql://varde@db/varde --since 2026-11-01 --json

Read from the store directly (the file or database the server's --queue names), so run it where the store is.
The trail holds who, when, what and which flag or batch; never a clinical value or a resolution note.
"""


def add_parser(sub) -> None:
    a = sub.add_parser("audit", help="read the audit trail: flag reads, claims, resolves, scored batches",
                       description="Print the audit trail of the flag queue, oldest first.", epilog=_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--queue", metavar="URL", default=os.environ.get("VARDE_QUEUE", "varde-queue.sqlite3"),
                   help="the server's queue: a SQLite file or postgresql://... (default: %(default)s; VARDE_QUEUE)")
    a.add_argument("--since", metavar="WHEN", type=_since,
                   help="from this time: 2026-11-23, 2026-11-23T08:00 (UTC unless an offset is given), or 24h / 7d")
    a.add_argument("--patient", metavar="ID", help="only the accesses to this patient's flags")
    a.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N entries (default: %(default)s)")
    a.add_argument("--json", action="store_true", help="one JSON object per entry")
    a.set_defaults(func=_audit)


def _since(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([hd])", text.strip())
    now = dt.datetime.now(dt.UTC)
    if m:
        when = now - dt.timedelta(hours=int(m[1]) * (24 if m[2] == "d" else 1))
    else:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give a date (2026-11-23), a time (2026-11-23T08:00) or "
                                             "an age (24h, 7d)") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1_000_000)


def _audit(args) -> int:
    import json

    from varde.server.store import StoreError, open_store

    from ._files import InputError

    url = args.queue
    if not url.startswith(("postgresql://", "postgres://")):
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not os.path.isfile(path):
            raise InputError(f"no queue at {path!r}; give the server's --queue (or VARDE_QUEUE)")
    try:
        store = open_store(url)
    except StoreError as e:
        raise InputError(f"cannot open the queue: {e}") from None
    try:
        rows = store.audit_log(since_us=args.since or 0, patient_id=args.patient, limit=args.limit)
    finally:
        store.close()
    for r in rows:
        at = dt.datetime.fromtimestamp(r.at / 1e6, dt.UTC)
        if args.json:
            print(json.dumps({"at": at.isoformat(), "actor": r.actor, "unit": r.unit, "action": r.action,
                              "method": r.method, "flag_id": r.flag_id, "patient_id": r.patient_id,
                              "batch_id": r.batch_id, "rows": r.row_count, "detail": r.detail or None},
                             ensure_ascii=False))
        else:
            what = (f"flag {r.flag_id} ({r.patient_id})" if r.flag_id is not None
                    else f"batch {r.batch_id!r}, {r.row_count} rows" if r.batch_id is not None else "")
            print(f"{at:%Y-%m-%d %H:%M:%S} UTC  {r.action:<8} {r.actor:<24} unit {r.unit or '-':<10} "
                  f"{r.method or '':<18} {what}{'  ' + r.detail if r.detail else ''}")
    if not rows:
        print("no audit entries match", file=sys.stderr)
    return 0
