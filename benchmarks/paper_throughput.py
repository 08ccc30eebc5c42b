"""A throughput record of finished runs: what `minirtc sweep --dry-run` estimates hours from.

    python benchmarks/paper_throughput.py RUN_DIR [RUN_DIR ...] --out FILE.json

Each run's rate is its steps over its whole wall time (summary.json), its evaluations and
checkpoints included; its step-cost settings (model, architecture, widths, batch size,
dtype) decide which sweeps it stands for.  The machine is recorded: the GPU's name for
torch runs on CUDA, else the CPU model.  benchmarks/gpu_check.sh runs this on its short
paper-profile runs; copy the file to benchmarks/results/gpu-throughput.json to make it the
dry run's default.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from measuring import cpu_model  # the sibling benchmark module

from minirtc.experiments.sweep import throughput_record
from minirtc.training import records
from minirtc.training.config import TrainConfig


def machine(run_dirs: list[str]) -> dict[str, str]:
    """The device the runs trained on and its name (GPU, or CPU model)."""
    configs = [TrainConfig.from_file(Path(d) / records.CONFIG) for d in run_dirs]
    if all(c.backend == "torch" and c.device in ("cuda", "auto") for c in configs):
        import torch

        if torch.cuda.is_available():
            return {"device": "cuda", "name": torch.cuda.get_device_name(), "torch": torch.__version__}
    return {"device": "cpu", "name": cpu_model()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dirs", nargs="+", help="finished run directories")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    try:
        record = throughput_record(args.run_dirs, machine(args.run_dirs))
    except ValueError as error:  # SweepError, or ConfigError from a config.json
        sys.exit(f"error: {error}")
    records.atomic_write_json(Path(args.out), record)
    for run in record["runs"]:
        print(
            f"  {run['settings']['model']:11} {run['steps']:7,} steps in {run['wall_s']:8.1f} s: "
            f"{run['steps_per_s']:8.1f} steps/s  ({run['run_dir']})"
        )
    print(f"machine: {json.dumps(record['machine'])}\nwrote {args.out}")


if __name__ == "__main__":
    main()
