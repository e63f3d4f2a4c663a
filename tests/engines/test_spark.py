"""The Spark engine gives the local engine's output row for row, findings included; a Python worker that dies
mid-task is retried by Spark, and the output is complete and unduplicated; risk scores too (lists of dictionaries
in its output, which Spark has no type for). One local Spark session for the module
(local[2,3]: two task slots, three attempts per task), which the engine uses and leaves running."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.engines.dataset import assert_same_rows, read_sorted, write_dataset
from varde.clients.engines import Job, run_job
from varde.clients.engines.spark import score_partitions, spark_schema
from varde.scoring.risk.score import RISK_COLUMNS
from varde.scoring.schema import RESULT_COLUMNS

pytest.importorskip("pyspark", reason="pip install 'varde[spark]' (CI installs it)")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java on PATH (CI installs it)", allow_module_level=True)

# mapInArrow goes through pandas_udf, which warns about the pandas version although no pandas is involved.
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

COMPARED = ["patient_id", "observed_at", "resp_rate", *RESULT_COLUMNS]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2,3]").appName("varde-test")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")  # the killed worker's task failure is expected
    yield session
    session.stop()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark")
    rows = write_dataset(str(root / "in"))
    local = run_job("local", Job(str(root / "in"), str(root / "local"), str(root / "local-findings")))
    assert local.rows == rows and local.rejected > 0 and local.findings > 0
    return root, local


def test_spark_gives_the_local_output_row_for_row(spark, dataset):
    root, local = dataset
    batch_records = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    job = Job(str(root / "in"), str(root / "spark"), str(root / "spark-findings"))
    seen = []
    result = run_job("spark", job, workers=2, progress=lambda done, total: seen.append((done, total)))
    assert (result.engine, result.files, result.rows, result.rejected, result.findings) == (
        "spark", 8, local.rows, local.rejected, local.findings)
    assert seen == [(8, 8)]
    got = read_sorted(str(root / "spark"))
    assert "region" in got.column_names  # the input's hive partition column, as Spark reads it
    assert_same_rows(got, read_sorted(str(root / "local")), COMPARED)
    assert_same_rows(read_sorted(str(root / "spark-findings")), read_sorted(str(root / "local-findings")), COMPARED)
    # A session the engine did not start is left running, with its settings as they were.
    assert spark.range(3).count() == 3
    assert spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") == batch_records


def test_a_python_worker_that_dies_mid_task_is_retried_and_nothing_is_lost_or_doubled(spark, dataset, tmp_path):
    root, local = dataset
    marker = str(tmp_path / "died-once")

    def die_once(batches):
        """Scores; the first worker to get here sends one scored batch, then its process dies."""
        scored = score_partitions(batches, "news2", None)
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            yield from scored
            return
        yield next(scored)
        os._exit(1)

    df = spark.read.option("basePath", str(root / "in")).parquet(str(root / "in"))
    df.mapInArrow(die_once, spark_schema(df.schema)).write.parquet(str(tmp_path / "out"))
    assert os.path.exists(marker)  # a worker did die
    got = read_sorted(str(tmp_path / "out"))
    assert got.num_rows == local.rows and len(set(got.column("row_id").to_pylist())) == local.rows
    assert_same_rows(got, read_sorted(str(root / "local")), list(RESULT_COLUMNS))


def test_spark_scores_risk_like_the_local_engine(spark, tmp_path):
    n = 400
    table = pa.table({
        "patient_id": [f"p{i}" for i in range(n)],
        "age": pa.array([80, 50, None, 70] * (n // 4), pa.int16()),
        "icd10": pa.array([["I50.9", "E11"], None, ["x"], ["C78.0", "I21"]] * (n // 4), pa.list_(pa.string())),
        "atc": pa.array([["C07AB02", "C07"], None, [], ["N02"] * 6] * (n // 4), pa.list_(pa.string())),
        "row_id": pa.array(range(n), pa.int64()),
    })
    os.makedirs(tmp_path / "in")
    pq.write_table(table, tmp_path / "in" / "a.parquet")
    as_of = dt.date(2025, 1, 1)
    local = run_job("local", Job(str(tmp_path / "in"), str(tmp_path / "local"), str(tmp_path / "lf"), "risk",
                                 as_of=as_of))
    result = run_job("spark", Job(str(tmp_path / "in"), str(tmp_path / "spark"), str(tmp_path / "sf"), "risk",
                                  as_of=as_of))
    assert (result.rows, result.rejected, result.findings) == (local.rows, local.rejected, 0) == (n, 0, 0)
    got, expected = read_sorted(str(tmp_path / "spark")), read_sorted(str(tmp_path / "local"))
    assert got.column("charlson_groups").type == pa.list_(pa.field("element", pa.string()))
    for name in ["row_id", "icd10", "atc", *RISK_COLUMNS]:
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name
