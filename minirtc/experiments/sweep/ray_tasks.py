"""The Ray executor: every task a Ray task, with one GPU where the cluster has GPUs.

Needs Ray (pip install 'minirtc[ray]'); the sweep directory must be on storage every
node sees.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from minirtc.experiments.sweep.grid import SweepError
from minirtc.experiments.sweep.tasks import GroupTask, RunTask, execute_task, task_runs


def execute_ray(
    tasks: list[RunTask | GroupTask], on_done: Callable[[dict[str, Any]], None], address: str | None = None
) -> list[str]:
    """Run `tasks` as Ray tasks (a group of seeds is one task), one GPU each where the cluster has GPUs.

    Connects to `address` (or $RAY_ADDRESS, or the session already initialised), else
    starts a local Ray.  The sweep directory must be on storage every node sees.
    """
    try:
        import ray
    except ImportError as error:
        raise SweepError("the ray executor needs Ray: pip install 'minirtc[ray]'") from error
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(num_gpus=1 if gpus else 0, num_cpus=1, max_retries=2)(execute_task)
        pending = {remote.remote(dataclasses.replace(t, threads=1)): t for t in tasks}
        interrupted = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    outcomes = ray.get(ref)
                except ray.exceptions.RayError:
                    interrupted.extend(task_runs(task))
                    continue
                for outcome in outcomes:
                    on_done(outcome)
        return interrupted
    finally:
        if started:
            ray.shutdown()
