"""Spark: the kernels run inside `DataFrame.mapInArrow`, so each Python worker scores the Arrow record batches Spark
hands it (no pandas, no rows) through the same boundary as every engine (varde.scoring.batch). Spark writes the
output; its commit protocol keeps one attempt of each task, so a task retried after its worker died adds no rows.
Flags are not raised from workers: the findings (the scored rows that raise a flag by themselves) are selected from
the written output into a dataset of their own, for `varde flags import`.

The output is one folder of Spark part files, not the input's layout; hive partition columns of the input
(`region=east/`) are ordinary columns in it. Timestamps are written as INT64 microseconds in UTC, not Spark's
legacy INT96, so that every Parquet reader sees the input's instants.

Each Python worker gets its Numba settings (_files.worker_environment) through the environment PySpark sends with
every Python function (seeded from `spark.executorEnv.*`, and unlike that, settable on a session already running):
its share of the cores in NUMBA_NUM_THREADS (Spark sets OMP threads, which Numba ignores), the thread-safe
threading layer, and the driver's NUMBA_CACHE_DIR, pre-filled here, so that the workers load the kernels instead of
each compiling them. On a cluster that cache must be a folder every executor reads (and CPUs alike).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pyarrow as pa

from . import JobResult
from ._files import Job, input_files, plain_schema, worker_environment

__all__ = ["run", "score_partitions", "spark_schema"]

# Runtime settings for the job, restored afterwards on a session that was already running.
_SQL = {
    "spark.sql.session.timeZone": "UTC",  # timestamps reach the kernels as timestamp[us, tz=UTC]
    "spark.sql.execution.arrow.useLargeVarTypes": "false",  # strings as the output schema declares them
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def run(job: Job, *, workers: int = 2, address: str | None = None, progress=None) -> JobResult:
    """Score `job` on the running SparkSession if there is one (left running, its settings as they were; `workers`
    and `address` unused), else on a session started on `address` (a master URL) or local[workers], then stopped."""
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F
    except ImportError:
        raise RuntimeError("the spark engine needs PySpark: pip install 'varde[spark]'") from None
    from varde.scoring.schema import BANDS

    files = input_files(job.input_dir)
    started = time.perf_counter()
    spark = SparkSession.getActiveSession()
    owned = spark is None
    if owned:
        spark = (SparkSession.builder.master(address or f"local[{workers}]").appName("varde-score")
                 .config("spark.ui.showConsoleProgress", "false")  # the caller shows progress, if anything
                 .getOrCreate())
        spark.sparkContext.setLogLevel("WARN")
    settings = {**_SQL, "spark.sql.execution.arrow.maxRecordsPerBatch": str(job.batch_size)}
    try:
        with warnings.catch_warnings(), _settings(spark, settings, _worker_env(spark, job.kind)):
            # mapInArrow goes through pandas_udf, which warns about pandas 3 although no pandas is involved
            warnings.filterwarnings("ignore", message=".*pandas", category=FutureWarning)
            df = spark.read.option("basePath", job.input_dir).parquet(*files)
            as_of = job.as_of or dt.date.today()  # one date for every worker
            scored = df.mapInArrow(partial(score_partitions, kind=job.kind, as_of=as_of),
                                   spark_schema(df.schema, kind=job.kind, as_of=as_of))
            scored.write.mode("overwrite").parquet(job.output_dir)
            out = spark.read.parquet(job.output_dir)
            rows, rejected = out.agg(F.count(F.lit(1)), F.count("reject_reason")).first()
            found = 0
            if job.kind == "news2":  # what news2_findings selects (where the test is null: not selected, as there)
                findings = out.filter(F.col("news2_band").isin(BANDS[3], BANDS[4]) | F.col("news2_red"))
                findings.write.mode("overwrite").parquet(job.findings_dir)
                found = spark.read.parquet(job.findings_dir).count()
    finally:
        if owned:
            spark.stop()
    if progress:
        progress(len(files), len(files))  # Spark reports tasks, not files: all at once
    return JobResult("spark", files=len(files), rows=rows, rejected=rejected, findings=found,
                     seconds=time.perf_counter() - started)


def score_partitions(batches: Iterator[pa.RecordBatch], kind: str, as_of: dt.date) -> Iterator[pa.RecordBatch]:
    """What mapInArrow runs on a worker: each batch scored, dictionaries as their values (Spark has none)."""
    from varde.scoring.batch import score_news2_batch, score_risk_batch

    for batch in batches:
        scored = score_news2_batch(batch) if kind == "news2" else score_risk_batch(batch, as_of)
        plain = plain_schema(scored.schema)
        yield scored if plain == scored.schema else scored.cast(plain)


def spark_schema(schema, *, kind: str = "news2", as_of: dt.date | None = None):
    """The Spark StructType of score_partitions' output for input `schema` (a Spark StructType or the Arrow schema
    of the batches mapInArrow passes)."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
    from pyspark.sql.types import StructType

    from varde.scoring.batch import news2_output_schema, risk_output_schema

    if isinstance(schema, StructType):
        schema = to_arrow_schema(schema, timezone="UTC")
    out = news2_output_schema(schema) if kind == "news2" else risk_output_schema(schema, as_of or dt.date.today())
    return from_arrow_schema(plain_schema(out))


def _worker_env(spark, kind: str) -> dict[str, str]:
    sc, cache_dir = spark.sparkContext, os.environ.get("NUMBA_CACHE_DIR")
    local = sc.master.startswith("local")
    if local or cache_dir:  # compiled (or loaded) here, into the cache the workers load from
        if kind == "news2":
            from varde.scoring import warm_up
        else:
            from varde.scoring.risk.score import warm_up
        warm_up()
    # Local mode runs defaultParallelism tasks at once, each in a Python worker of its own: they share the cores.
    # On a cluster a task has spark.task.cpus cores of its executor.
    threads = (os.cpu_count() or 1) // sc.defaultParallelism if local else int(sc.getConf().get("spark.task.cpus", "1"))
    return worker_environment(threads, cache_dir)


@contextmanager
def _settings(spark, sql: dict[str, str], env: dict[str, str]):
    """`sql` settings on the session and `env` in its Python workers' environment for the job, then as before."""
    before = {k: spark.conf.get(k, None) for k in sql}
    environment = spark.sparkContext.environment
    env_before = dict(environment)
    for k, v in sql.items():
        spark.conf.set(k, v)
    environment.update(env)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)
        environment.clear()
        environment.update(env_before)
