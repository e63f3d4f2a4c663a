"""The Dask engine on a local cluster gives the local engine's output row for row; a worker that dies mid-job is
replaced and its file scored again, complete and unduplicated."""

from __future__ import annotations

import os

import pytest

from tests.engines.dataset import assert_same_rows, read_sorted, write_dataset
from varde.clients.engines import Job, run_job
from varde.scoring.schema import RESULT_COLUMNS

pytest.importorskip("distributed", reason="pip install 'varde[dask]' (CI installs it)")


@pytest.fixture(autouse=True)
def _environment_restored():
    # dask's Nanny writes its pre-spawn settings (MALLOC_TRIM_THRESHOLD_, OMP_NUM_THREADS=1) into this process's
    # os.environ and leaves them there, for every test that runs after this file.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("engines")
    rows = write_dataset(str(root / "in"))
    local = run_job("local", Job(str(root / "in"), str(root / "local"), str(root / "local-findings")))
    assert local.rows == rows
    return root, rows


def test_dask_gives_the_local_output_row_for_row(dataset):
    root, rows = dataset
    job = Job(str(root / "in"), str(root / "dask"), str(root / "dask-findings"))
    seen = []
    result = run_job("dask", job, workers=2, progress=lambda done, total: seen.append((done, total)))
    assert (result.rows, result.files) == (rows, 8) and seen[-1] == (8, 8)
    expected = read_sorted(str(root / "local"))
    assert expected.column("reject_reason").null_count < rows  # the bad rows came through
    assert_same_rows(read_sorted(str(root / "dask")), expected, ["resp_rate", *RESULT_COLUMNS])
    assert_same_rows(read_sorted(str(root / "dask-findings")), read_sorted(str(root / "local-findings")),
                     ["news2_total", "news2_band"])
    assert result.findings == read_sorted(str(root / "local-findings")).num_rows > 0
    assert "NUMBA_NUM_THREADS" not in os.environ  # set in the workers only: this process's Numba is running


def test_the_local_cluster_workers_get_the_numba_settings():
    from dask.distributed import Client

    from varde.clients.engines.dask import local_cluster

    with local_cluster(2) as cluster, Client(cluster) as client:
        seen = client.run(lambda: (os.environ.get("NUMBA_NUM_THREADS"), os.environ.get("NUMBA_THREADING_LAYER")))
    threads = str(max(1, (os.cpu_count() or 1) // 2))
    assert sorted(seen.values()) == [(threads, "threadsafe")] * 2


def test_a_worker_that_dies_mid_job_is_replaced_and_nothing_is_lost_or_doubled(dataset, tmp_path):
    from dask.distributed import Client, LocalCluster, WorkerPlugin

    root, rows = dataset
    marker = str(tmp_path / "died-once")

    class DieOnce(WorkerPlugin):
        """Kills the worker process the first time any worker starts a task."""

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing":
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    return
                os._exit(1)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.register_plugin(DieOnce())
        job = Job(str(root / "in"), str(tmp_path / "out"), str(tmp_path / "out-findings"))
        result = run_job("dask", job, address=cluster.scheduler_address)
    assert os.path.exists(marker)  # a worker did die
    assert result.rows == rows
    got = read_sorted(str(tmp_path / "out"))
    assert got.num_rows == rows and len(set(got.column("row_id").to_pylist())) == rows
    assert_same_rows(got, read_sorted(str(root / "local")), list(RESULT_COLUMNS))
