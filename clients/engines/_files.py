"""What every engine does with one file of a partitioned Parquet dataset: read it in record batches, score them
through the Arrow boundary (varde.scoring.batch), write the scored file and its findings. The writes go to a
temporary name and are renamed into place, so that a task the engine runs again (a worker died) replaces its own
output instead of adding to it."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["FileResult", "Job", "input_files", "plain_schema", "score_file", "worker_environment"]

KINDS = ("news2", "risk")


@dataclass(frozen=True)
class Job:
    """One scoring job over a dataset: what every task needs to know, small enough to ship to workers."""

    input_dir: str
    output_dir: str
    findings_dir: str
    kind: str = "news2"
    batch_size: int = 1 << 17
    as_of: dt.date | None = None  # risk: one date for every worker

    def output_of(self, src: str) -> str:
        return os.path.join(self.output_dir, os.path.relpath(src, self.input_dir))

    def findings_of(self, src: str) -> str:
        return os.path.join(self.findings_dir, os.path.relpath(src, self.input_dir))


@dataclass(frozen=True)
class FileResult:
    path: str
    rows: int
    rejected: int
    findings: int


def input_files(input_dir: str) -> list[str]:
    """Every .parquet file under `input_dir` (hive partition folders included), in a stable order."""
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{input_dir!r} is not a folder of Parquet files")
    files = sorted(str(p) for p in root.rglob("*.parquet") if p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        raise FileNotFoundError(f"no .parquet files under {input_dir!r}")
    return files


def worker_environment(threads: int, cache_dir: str | None = None) -> dict[str, str]:
    """The variables a worker process needs before it imports Numba: its thread count (engines set OMP threads,
    which Numba ignores), the thread-safe threading layer (the fallback layer crashed workers when two threads
    called a kernel at once), and a shared cache so that workers load the kernels instead of each compiling."""
    env = {"NUMBA_NUM_THREADS": str(max(1, threads)), "NUMBA_THREADING_LAYER": "threadsafe"}
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    return env


def score_file(src: str, job: Job) -> FileResult:
    """Score one input file into its output and findings files (replacing them if they exist)."""
    from varde.scoring.batch import news2_findings, score_news2_batch, score_risk_batch

    reader = pq.ParquetFile(src)
    out_path, find_path = job.output_of(src), job.findings_of(src)
    rows = rejected = found = 0
    writers: dict[str, pq.ParquetWriter] = {}
    temps = {out_path: _temp(out_path), find_path: _temp(find_path)}
    try:
        for batch in reader.iter_batches(batch_size=job.batch_size):
            if job.kind == "news2":
                scored = score_news2_batch(batch)
                findings = news2_findings(scored)
            else:
                scored = score_risk_batch(batch, job.as_of or dt.date.today())
                findings = None
            scored = _plain(scored)
            _write(writers, temps, out_path, scored)
            rows += scored.num_rows
            rejected += scored.num_rows - scored.column("reject_reason").null_count
            if findings is not None and findings.num_rows:
                _write(writers, temps, find_path, _plain(findings))
                found += findings.num_rows
        if out_path not in writers:  # an empty file gives an empty scored file with the full schema
            from varde.scoring.batch import news2_output_schema, risk_output_schema

            schema = (news2_output_schema(reader.schema_arrow) if job.kind == "news2"
                      else risk_output_schema(reader.schema_arrow, job.as_of or dt.date.today()))
            _write(writers, temps, out_path, pa.RecordBatch.from_pylist([], schema=plain_schema(schema)))
        for w in writers.values():
            w.close()
        for final, temp in temps.items():
            if final in writers:
                os.replace(temp, final)
            elif os.path.exists(final):
                os.remove(final)  # a run before found something here; this one did not
    finally:
        for w in writers.values():
            w.close()
        for temp in temps.values():
            if os.path.exists(temp):
                os.remove(temp)
    return FileResult(src, rows, rejected, found)


def _temp(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")


def _write(writers: dict, temps: dict, path: str, batch: pa.RecordBatch) -> None:
    if path not in writers:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        writers[path] = pq.ParquetWriter(temps[path], batch.schema)
    writers[path].write_batch(batch)


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with every dictionary type as its value type, nested ones too (risk's charlson_groups is a list of
    them): Spark has no dictionary type and does not check batches against the schema, so its Arrow reader fails
    on the first dictionary it meets; Parquet readers of other tools are simpler without them too."""
    def plain(t: pa.DataType) -> pa.DataType:
        if pa.types.is_dictionary(t):
            return plain(t.value_type)
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            field = t.value_field.with_type(plain(t.value_type))
            return pa.list_(field) if pa.types.is_list(t) else pa.large_list(field)
        if pa.types.is_struct(t):
            return pa.struct([f.with_type(plain(f.type)) for f in t])
        return t

    return pa.schema([f.with_type(plain(f.type)) for f in schema], metadata=schema.metadata)


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Dictionary columns as plain values: every engine and every Parquet reader takes them so."""
    plain = plain_schema(batch.schema)
    return batch if plain == batch.schema else batch.cast(plain)
