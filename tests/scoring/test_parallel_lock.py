"""Parallel kernels called from several threads at once, as gRPC worker threads call them, under Numba's workqueue
threading layer: the layer used where neither OpenMP nor TBB is installed, which aborts the whole process on
concurrent use. ScorePatients did so (the risk kernels took no lock) until every parallel call took
_jit.PARALLEL_LOCK."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import threading
    import numpy as np, pyarrow as pa, numba
    from varde.scoring import score_news2
    from varde.scoring.national_id import check_national_ids
    from varde.scoring.risk import score_risk

    n = 20_000
    rng = np.random.default_rng(0)
    ids = pa.array([f"p{i}" for i in range(n)])
    patients = pa.table({"patient_id": ids, "age": rng.integers(20, 95, n),
                         "icd10": [["I50.9", "E11.9", "C50.1"]] * n, "atc": [["C09AA02", "A10BA02"]] * n})
    observations = pa.table({"patient_id": ids, "resp_rate": rng.integers(8, 30, n), "spo2": rng.integers(85, 100, n),
                             "on_oxygen": rng.random(n) < 0.1, "systolic_bp": rng.integers(80, 200, n),
                             "pulse": rng.integers(40, 140, n), "consciousness": ["A"] * n,
                             "temperature": rng.uniform(35, 40, n)})
    jobs = [lambda: score_risk(patients), lambda: score_news2(observations), lambda: check_national_ids(ids)]
    errors = []

    def work(job):
        try:
            for _ in range(15):
                job()
        except BaseException as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs + jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    assert not errors, errors
    print("ok")
""")


def test_parallel_kernels_from_many_threads_under_the_workqueue_layer():
    env = {"NUMBA_THREADING_LAYER": "workqueue"}
    import os

    run = subprocess.run([sys.executable, "-c", SCRIPT], env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"
