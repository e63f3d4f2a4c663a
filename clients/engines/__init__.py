"""Scoring a partitioned Parquet dataset on an engine you already run: this process (`local`), a Dask cluster
(`dask`, `pip install 'varde[dask]'`) or Spark (`spark`, `pip install 'varde[spark]'`). Every engine scores each
file through the same Arrow boundary (varde.scoring.batch) and writes the same output (docs/scale-out.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._files import FileResult, Job, input_files

__all__ = ["ENGINES", "FileResult", "Job", "JobResult", "input_files", "run_job"]

ENGINES = ("local", "dask", "spark")


@dataclass
class JobResult:
    engine: str
    files: int = 0
    rows: int = 0
    rejected: int = 0
    findings: int = 0
    seconds: float = 0.0
    details: list = field(default_factory=list)  # FileResult per file where the engine reports them


def run_job(engine: str, job: Job, *, workers: int = 2, address: str | None = None, progress=None) -> JobResult:
    """Run `job` on `engine`. `workers`: processes (local: kernel threads); `address`: an engine to connect to (a
    Dask scheduler, a Spark master URL) instead of starting one on this machine. `progress(done, total)` is called
    as files finish, where the engine reports it."""
    if engine == "local":
        from .local import run
    elif engine == "dask":
        from .dask import run
    elif engine == "spark":
        from .spark import run
    else:
        raise ValueError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
    return run(job, workers=workers, address=address, progress=progress)
