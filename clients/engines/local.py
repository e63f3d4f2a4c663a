"""This process, file by file: the kernels use every core within each file."""

from __future__ import annotations

import time

from . import JobResult
from ._files import Job, input_files, score_file

__all__ = ["run"]


def run(job: Job, *, workers: int = 2, address: str | None = None, progress=None) -> JobResult:
    if address:
        raise ValueError("the local engine runs in this process: it takes no --engine-address")
    files = input_files(job.input_dir)
    started = time.perf_counter()
    result = JobResult("local", files=len(files))
    for k, src in enumerate(files, start=1):
        r = score_file(src, job)
        result.rows, result.rejected, result.findings = (result.rows + r.rows, result.rejected + r.rejected,
                                                         result.findings + r.findings)
        result.details.append(r)
        if progress:
            progress(k, len(files))
    result.seconds = time.perf_counter() - started
    return result
