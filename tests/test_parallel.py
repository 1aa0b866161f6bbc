"""The Dask task runner: a 2-worker LocalCluster, retries, reported failures, resumable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inference.parallel import Task, run_tasks


def square(*, x: int, offset: int, log: str) -> dict:
    """A task that records every call (to count reruns) and returns a small dict."""
    with open(log, "a") as fh:
        fh.write(f"{x}\n")
    return {"value": x * x + offset, "pid": os.getpid()}


def flaky(*, marker: str) -> dict:
    """Fails the first time it runs (anywhere), succeeds on a retry."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError("transient failure")
    return {"ok": True}


def broken(*, x: int) -> dict:
    raise ValueError(f"bad input x={x}")


def _tasks(log: Path, n: int = 6) -> list[Task]:
    return [Task(key=f"sq-{i}", kwargs={"x": i, "log": str(log)}, fingerprint=f"v1-{i}")
            for i in range(n)]


@pytest.fixture(scope="module")
def local_cluster_batch(tmp_path_factory):
    """One run on a 2-worker LocalCluster (started and closed by run_tasks)."""
    tmp = tmp_path_factory.mktemp("dask")
    log = tmp / "calls.txt"
    batch = run_tasks(square, _tasks(log), store=tmp / "store", shared={"offset": 10},
                      workers=2, retries=1)
    return tmp, log, batch


def test_local_cluster_runs_every_task_on_two_workers(local_cluster_batch):
    _, log, batch = local_cluster_batch
    assert batch.workers == 2 and batch.scheduler == "local"
    assert not batch.failures
    assert list(batch.results) == [f"sq-{i}" for i in range(6)]  # task order, not finish order
    assert [r["value"] for r in batch.results.values()] == [i * i + 10 for i in range(6)]
    assert all(r["pid"] != os.getpid() for r in batch.results.values())  # ran in workers
    assert len(log.read_text().split()) == 6


def test_rerun_skips_finished_tasks(local_cluster_batch):
    tmp, log, first = local_cluster_batch
    again = run_tasks(square, _tasks(log), store=tmp / "store", shared={"offset": 10},
                      scheduler="serial")
    assert again.reused == 6 and len(log.read_text().split()) == 6  # nothing re-ran
    assert [r["value"] for r in again.results.values()] == \
        [r["value"] for r in first.results.values()]


def test_changed_task_is_rerun(tmp_path):
    log = tmp_path / "calls.txt"
    run_tasks(square, _tasks(log, 2), store=tmp_path, shared={"offset": 0}, scheduler="serial")
    changed = [Task(t.key, t.kwargs, fingerprint="v2") if t.key == "sq-1" else t
               for t in _tasks(log, 2)]
    batch = run_tasks(square, changed, store=tmp_path, shared={"offset": 0},
                      scheduler="serial")
    assert batch.reused == 1 and log.read_text().split() == ["0", "1", "1"]


@pytest.mark.parametrize("scheduler", ["serial", None])
def test_failures_are_retried_then_reported(tmp_path, scheduler):
    tasks = [Task("flaky", {"marker": str(tmp_path / "marker")}, "f"),
             Task("broken", {"x": 3}, "b")]


    batch = run_tasks(dispatch, [Task(t.key, t.kwargs | {"which": t.key}, t.fingerprint)
                                 for t in tasks],
                      store=tmp_path / "store", scheduler=scheduler, workers=2, retries=1)
    assert list(batch.results) == ["flaky"] and batch.results["flaky"]["ok"]
    assert len(batch.failures) == 1
    failure = batch.failures[0]
    assert failure.key == "broken" and failure.attempts == 2
    assert "ValueError: bad input x=3" in failure.error
    assert not (tmp_path / "store" / "broken.json").exists()  # a failure is not a result


def dispatch(*, which: str, **kwargs) -> dict:
    return {"flaky": flaky, "broken": broken}[which](**kwargs)


def test_bad_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        run_tasks(square, [Task("a", {}, "1"), Task("a", {}, "2")], store=tmp_path,
                  scheduler="serial")
    with pytest.raises(ValueError, match="letters"):
        run_tasks(square, [Task("../a", {}, "1")], store=tmp_path, scheduler="serial")


def test_existing_cluster_by_address(tmp_path):
    """--scheduler ADDRESS: tasks go to a cluster that run_tasks did not start (or stop)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        log = tmp_path / "calls.txt"
        batch = run_tasks(square, _tasks(log, 4), store=tmp_path / "store",
                          shared={"offset": 1}, scheduler=cluster.scheduler_address)
        assert batch.workers == 2 and batch.scheduler == cluster.scheduler_address
        assert [r["value"] for r in batch.results.values()] == [i * i + 1 for i in range(4)]
        with Client(cluster.scheduler_address) as client:  # still up for the next batch
            assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2
