"""OpenMP threads sleep between parallel kernel calls unless the operator says otherwise: spinning took ~10 ms of a
core per call from gRPC's threads and the client on 2 cores (benchmarks/RESULTS.md)."""

import os
import subprocess
import sys

PROBE = "import os, varde.scoring; print(os.environ['OMP_WAIT_POLICY'])"


def _policy(**env) -> str:
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    return subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


def test_passive_unless_the_operator_set_a_policy():
    assert _policy() == "PASSIVE"
    assert _policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
