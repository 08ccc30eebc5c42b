"""The local executor: tasks in this process, or in a pool of spawned processes."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from minirtc.experiments.sweep.tasks import GroupTask, RunTask, execute_task, task_runs


def execute_local(
    tasks: list[RunTask | GroupTask], jobs: int, on_done: Callable[[dict[str, Any]], None]
) -> list[str]:
    """Run `tasks` here (jobs=1) or in `jobs` spawned processes with one BLAS/torch thread each.

    Returns the names of runs whose worker process died (the pool breaks; they resume on rerun).
    """
    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            for outcome in execute_task(task):
                on_done(outcome)
        return []
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    interrupted = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(execute_task, dataclasses.replace(t, threads=1)): t for t in tasks}
        try:
            for future in as_completed(futures):
                try:
                    outcomes = future.result()
                except BrokenProcessPool:
                    interrupted.extend(task_runs(futures[future]))
                    continue
                for outcome in outcomes:
                    on_done(outcome)
        except BaseException:  # Ctrl-C or a bug: stop now; the runs resume from their checkpoints
            _stop_workers(pool)
            raise
    return interrupted


def _stop_workers(pool: Any) -> None:
    """Cancel the runs not started and terminate the workers (a worker that caught Ctrl-C would go on)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # private before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
