"""Fan many small fits out over Dask: a LocalCluster by default, or any running cluster.

Sensitivity grids and simulation-based calibration are embarrassingly parallel: many fits of
one compiled structure, each reduced to a small result (ranks, contrast summaries). This
module runs such task lists with the guarantees a long batch needs:

* **small results** -- each task returns a JSON-serialisable dict, never a posterior;
* **retries, then a report** -- a task that raises is retried ``retries`` times by Dask and
  then listed in the returned failures (with its error), never silently dropped;
* **resumable** -- each finished result is written at once to ``store/<key>.json`` with the
  task's fingerprint; a rerun skips every task whose file matches, so an interrupted batch
  continues where it stopped and a finished one costs nothing;
* **compile once per worker** -- :func:`worker_engine` is a per-process
  :class:`~inference.engine.Engine`, so every worker compiles each model structure once and
  then only swaps data and prior values in.

``scheduler=None`` starts a ``LocalCluster`` sized to the machine (one single-threaded worker
process per core), ``"serial"`` runs in this process (the baseline for timing), and any other
string is the address of an existing scheduler (``tcp://host:8786``), whose workers must have
this project installed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inference.files import write_text

__all__ = ["BatchResult", "Task", "TaskFailure", "fingerprint", "run_tasks", "worker_engine"]

log = logging.getLogger(__name__)
_ENGINE = None


def worker_engine():
    """This process's :class:`Engine` (compiled models are cached per worker process).

    In a Dask worker, nutpie gets as many threads as the worker has (one, on a LocalCluster).
    """
    global _ENGINE
    if _ENGINE is None:
        from inference.engine import Engine

        try:
            from distributed import get_worker

            cores = get_worker().state.nthreads
        except (ImportError, ValueError):  # not inside a Dask worker
            cores = None
        _ENGINE = Engine(cores=cores)
    return _ENGINE


def fingerprint(*parts: str) -> str:
    """A short hash of what a task computes (spec and settings JSON, data hash, seed...)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(**shared, **kwargs)``.

    ``key`` names the result file (letters, digits, ``-_.``); ``fingerprint`` identifies what
    the task computes (spec, settings, seed...), so a stored result is reused only when it
    matches.
    """

    key: str
    kwargs: dict
    fingerprint: str


@dataclass(frozen=True)
class TaskFailure:
    key: str
    attempts: int
    error: str


@dataclass
class BatchResult:
    """Results by task key, failures, and how the batch ran."""

    results: dict[str, dict]
    failures: list[TaskFailure]
    reused: int
    seconds: float
    scheduler: str
    workers: int
    task_seconds: list[float] = field(default_factory=list)


def _path(store: Path, key: str) -> Path:
    if not key.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError(f"task key {key!r} must be letters, digits and -_. only")
    return store / f"{key}.json"


def _stored(store: Path, task: Task) -> dict | None:
    path = _path(store, task.key)
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return saved["result"] if saved.get("fingerprint") == task.fingerprint else None


def _save(store: Path, task: Task, result: dict) -> None:
    write_text(_path(store, task.key),
               json.dumps({"fingerprint": task.fingerprint, "result": result}))


def _timed(fn: Callable[..., dict], kwargs: dict) -> dict:
    t0 = time.perf_counter()
    result = fn(**kwargs)
    if not isinstance(result, dict):
        raise TypeError(f"{fn.__name__} must return a dict, got {type(result).__name__}")
    return result | {"task_seconds": time.perf_counter() - t0, "worker_pid": os.getpid()}


def run_tasks(fn: Callable[..., dict], tasks: list[Task], *, store: Path,
              shared: dict | None = None, scheduler: str | None = None,
              workers: int | None = None, retries: int = 2,
              progress: Callable[[str], None] = log.info) -> BatchResult:
    """Run ``fn(**shared, **task.kwargs)`` for every task not already stored.

    ``fn`` must be importable (a module-level function) so that worker processes can load it.
    ``shared`` holds large inputs common to all tasks (the prepared design); with Dask they are
    scattered to the workers once instead of being sent with every task.
    """
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    shared = dict(shared or {})
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    todo = []
    for task in tasks:
        saved = _stored(store, task)
        if saved is None:
            todo.append(task)
        else:
            results[task.key] = saved
    reused = len(results)
    if reused:
        progress(f"{reused} of {len(tasks)} tasks already done in {store}; skipping them")
    if scheduler == "serial":
        failures = _run_serial(fn, todo, store, shared, retries, results, progress)
        n_workers = 1
    else:
        failures, n_workers = _run_dask(fn, todo, store, shared, scheduler, workers, retries,
                                        results, progress)
    ordered = {k: results[k] for k in keys if k in results}
    return BatchResult(results=ordered, failures=failures, reused=reused,
                       seconds=time.perf_counter() - t0,
                       scheduler=scheduler or "local", workers=n_workers,
                       task_seconds=[results[t.key]["task_seconds"] for t in todo
                                     if t.key in results])


def _run_serial(fn, todo, store, shared, retries, results, progress) -> list[TaskFailure]:
    failures = []
    for i, task in enumerate(todo, start=1):
        for attempt in range(1, retries + 2):
            try:
                result = _timed(fn, shared | task.kwargs)
            except Exception as err:  # noqa: BLE001 - reported, never dropped
                error = f"{type(err).__name__}: {err}"
                log.debug("task %s attempt %d failed:\n%s", task.key, attempt,
                          traceback.format_exc())
                if attempt == retries + 1:
                    failures.append(TaskFailure(task.key, attempt, error))
                    progress(f"[{i}/{len(todo)}] {task.key}: FAILED after {attempt} "
                             f"attempt(s): {error}")
                continue
            _save(store, task, result)
            results[task.key] = result
            progress(f"[{i}/{len(todo)}] {task.key}: {result['task_seconds']:.1f} s")
            break
    return failures


def _run_dask(fn, todo, store, shared, scheduler, workers, retries, results,
              progress) -> tuple[list[TaskFailure], int]:
    from distributed import Client, LocalCluster, as_completed

    for noisy in ("distributed", "tornado"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    cluster = None
    if scheduler is None:
        n = workers or os.cpu_count() or 1
        # ":0": the scheduler's HTTP routes on a free port, so two clusters on one machine
        # do not collide on 8787
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        progress(f"dask: {n_workers} worker(s) at {client.scheduler.address}; "
                 f"{len(todo)} task(s) to run")
        if not todo:
            return [], n_workers
        handles = {k: client.scatter(v, broadcast=True) for k, v in shared.items()}
        futures = {client.submit(_timed, fn, handles | task.kwargs, key=f"{task.key}-{id(task)}",
                                 retries=retries, pure=False): task for task in todo}
        failures = []
        done = 0
        for future in as_completed(futures):
            task = futures[future]
            done += 1
            if future.status == "error":
                err = future.exception()
                error = f"{type(err).__name__}: {err}"
                failures.append(TaskFailure(task.key, retries + 1, error))
                progress(f"[{done}/{len(todo)}] {task.key}: FAILED after {retries + 1} "
                         f"attempt(s): {error}")
                continue
            result = future.result()
            _save(store, task, result)
            results[task.key] = result
            progress(f"[{done}/{len(todo)}] {task.key}: {result['task_seconds']:.1f} s "
                     f"(worker {result['worker_pid']})")
        return failures, n_workers
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
