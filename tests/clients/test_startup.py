"""A local `varde score` starts without importing what it does not use: gRPC (only --server needs it) and pandas
(pyarrow imports it, where installed, at its first pa.array call). Together they were 0.25 s of every run.
Where pandas is not installed, the gRPC half still checks something."""

from __future__ import annotations

import subprocess
import sys


def _imported_after_score(tmp_path) -> set[str]:
    src = tmp_path / "obs.csv"
    src.write_text("patient_id,observed_at,resp_rate,spo2,systolic_bp,pulse,temperature,on_oxygen,consciousness\n"
                   "p1,2026-01-01T10:00:00Z,18,96,120,80,37.2,false,A\n")
    code = ("import sys\nfrom varde.clients.cli import main\n"
            f"rc = main(['score', {str(src)!r}, '-o', {str(tmp_path / 'out.parquet')!r}, '-q', '--no-progress'])\n"
            "assert rc == 0, rc\n"
            "print(' '.join(m for m in ('grpc', 'pandas') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return set(out.stdout.split())


def test_a_local_score_imports_neither_grpc_nor_pandas(tmp_path):
    assert _imported_after_score(tmp_path) == set()
