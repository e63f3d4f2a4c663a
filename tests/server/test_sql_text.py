"""SQL the stores run may not hold a literal %: psycopg reads it as a placeholder and the statement fails on
PostgreSQL only (twice so far). Patterns go in as parameters."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2] / "server"


def test_no_percent_sign_in_sql_literals():
    offenders = []
    for path in ROOT.rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"'[^']*%[^']*'", line) and re.search(r"\b(LIKE|SELECT|UPDATE|DELETE|INSERT|WHERE)\b", line):
                offenders.append(f"{path.relative_to(ROOT.parent)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
