"""E3-E6 (docs/experiments.md): a grid of training runs, model x beta x seed, in one sweep directory.

One file per job, imports pointing down the list:

    grid.py        the grid: SweepSpec, each point's TrainConfig, the --models/--betas/--metrics parsers
    cost.py        a sweep's size and cost: runs, steps, images, hours at a measured or assumed steps/s
    directory.py   the sweep directory: its layout, sweep.json, creating, reopening, extending
    state.py       each run's state, read from its own files (what a resumed sweep still has to do)
    evaluate.py    the metric suite on one trained run, a failure recorded
    tasks.py       one worker's task: lock, train (one run or one cell of seeds), evaluate
    plan.py        resuming: the runs that need work, split into tasks
    local.py       executor: this process, or a pool of spawned processes
    ray_tasks.py   executor: Ray tasks, one GPU each where the cluster has GPUs
    run.py         run_sweep: open the directory, plan, execute, report

Profiles (the default grid, shared settings, metric sizes) are the training's own
table, `minirtc.training.profiles`, which `minirtc train` uses too.  Seeds follow the
one grammar of `minirtc.training.seeds` (`0-4,7`).  Everything a caller needs is
importable from this package.
"""

from minirtc.experiments.sweep.cost import (
    DEFAULT_THROUGHPUT,
    Throughput,
    assumed_throughput,
    describe_cost,
    grid_counts,
    grid_hours,
    measured_throughput,
    plan_throughput,
    read_throughput,
    step_settings,
    throughput_record,
)
from minirtc.experiments.sweep.directory import (
    LOCK_FILE,
    METRICS_FILE,
    SWEEP_FILE,
    SWEEP_FORMAT,
    merge_spec,
    open_sweep,
    plan_profile,
    plan_sweep,
    preview_spec,
    read_spec,
)
from minirtc.experiments.sweep.evaluate import evaluate_run
from minirtc.experiments.sweep.grid import (
    WEIGHT_FIELD,
    RunSpec,
    SweepError,
    SweepSpec,
    check_spec,
    make_spec,
    parse_betas,
    parse_metrics,
    parse_models,
    run_name,
)
from minirtc.experiments.sweep.local import execute_local
from minirtc.experiments.sweep.plan import describe_plan, plan_tasks
from minirtc.experiments.sweep.ray_tasks import execute_ray
from minirtc.experiments.sweep.run import EXECUTORS, SweepResult, run_sweep
from minirtc.experiments.sweep.state import STATES, RunState, count_states, run_state, sweep_states
from minirtc.experiments.sweep.tasks import (
    GroupTask,
    RunTask,
    execute_group,
    execute_run,
    execute_task,
    run_lock,
    run_locks,
    task_runs,
    train_group,
    train_run,
)
from minirtc.training.profiles import PROFILES, Profile
from minirtc.training.seeds import parse_seeds

__all__ = [
    "DEFAULT_THROUGHPUT",
    "EXECUTORS",
    "LOCK_FILE",
    "METRICS_FILE",
    "PROFILES",
    "STATES",
    "SWEEP_FILE",
    "SWEEP_FORMAT",
    "WEIGHT_FIELD",
    "GroupTask",
    "Profile",
    "RunSpec",
    "RunState",
    "RunTask",
    "SweepError",
    "SweepResult",
    "SweepSpec",
    "Throughput",
    "assumed_throughput",
    "check_spec",
    "count_states",
    "describe_cost",
    "describe_plan",
    "evaluate_run",
    "execute_group",
    "execute_local",
    "execute_ray",
    "execute_run",
    "execute_task",
    "grid_counts",
    "grid_hours",
    "make_spec",
    "measured_throughput",
    "merge_spec",
    "open_sweep",
    "parse_betas",
    "parse_metrics",
    "parse_models",
    "parse_seeds",
    "plan_profile",
    "plan_sweep",
    "plan_tasks",
    "plan_throughput",
    "preview_spec",
    "read_spec",
    "read_throughput",
    "run_lock",
    "run_locks",
    "run_name",
    "run_state",
    "run_sweep",
    "step_settings",
    "sweep_states",
    "task_runs",
    "throughput_record",
    "train_group",
    "train_run",
]
