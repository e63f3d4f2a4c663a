"""Dask distributed: one task per file, retried on another worker if a worker dies. With no address, a local cluster
of `workers` processes, each one task at a time with the machine's cores shared out among them."""

from __future__ import annotations

import logging
import os
import time

from . import JobResult
from ._files import Job, input_files, score_file, worker_environment

__all__ = ["run"]

log = logging.getLogger("varde.clients.engines")


def run(job: Job, *, workers: int = 2, address: str | None = None, progress=None) -> JobResult:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("the dask engine needs Dask distributed: pip install 'varde[dask]'") from None
    files = input_files(job.input_dir)
    started = time.perf_counter()
    cluster = None
    if address:
        client = Client(address)
        _check_workers(client)
    else:
        _prefill_cache()
        cluster = local_cluster(workers)
        client = Client(cluster)
    result = JobResult("dask", files=len(files))
    try:
        futures = client.map(score_file, files, job=job, pure=False, retries=2)
        for k, future in enumerate(as_completed(futures), start=1):
            r = future.result()
            result.rows, result.rejected, result.findings = (result.rows + r.rows, result.rejected + r.rejected,
                                                             result.findings + r.findings)
            result.details.append(r)
            if progress:
                progress(k, len(files))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    result.details.sort(key=lambda r: r.path)
    result.seconds = time.perf_counter() - started
    return result


def local_cluster(workers: int):
    """`workers` processes on this machine, one task at a time each, the cores shared out among them. The Numba
    settings go into the workers' environment before they import Numba; not into this process's, whose Numba
    already runs (it refuses a changed thread count once its threads are up)."""
    from dask.distributed import LocalCluster

    threads = max(1, (os.cpu_count() or 1) // workers)
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        env=worker_environment(threads, os.environ.get("NUMBA_CACHE_DIR")))


def _prefill_cache() -> None:
    """Compile (or load) the kernels here first, so that the workers find them in the cache, not each compile."""
    from varde.scoring import warm_up

    warm_up()


def _check_workers(client) -> None:
    """A cluster someone else started: its workers must have been started with the variables (docs/scale-out.md);
    say so if they were not, rather than let two threads crash a worker in the fallback threading layer."""
    wanted = worker_environment(1)
    seen = client.run(lambda: {name: os.environ.get(name) for name in ("NUMBA_THREADING_LAYER", "NUMBA_NUM_THREADS")})
    for worker, env in sorted(seen.items()):
        if env.get("NUMBA_THREADING_LAYER") != wanted["NUMBA_THREADING_LAYER"] or not env.get("NUMBA_NUM_THREADS"):
            log.warning("Dask worker %s was started without NUMBA_THREADING_LAYER=threadsafe and NUMBA_NUM_THREADS "
                        "(docs/scale-out.md): set them in the workers' environment", worker)
