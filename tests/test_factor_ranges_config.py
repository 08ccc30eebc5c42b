"""`factor_ranges` in TrainConfig: a run trains, records and is scored on the sub-grid it names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from minirtc import data
from minirtc.cli import main
from minirtc.errors import ConfigError
from minirtc.training import TrainConfig, train
from minirtc.training.loop import load_dataset
from minirtc.training.restore import load_run

RANGES = {"f0": (1, 3), "f2": (0, 2)}


def small_config(**values) -> TrainConfig:
    settings = dict(
        dataset="gaussian", subset=None, hidden=(8,), latent_dim=2, batch_size=16, steps=10,
        log_every=5, eval_every=10, checkpoint_every=10, eval_size=50, factor_ranges=RANGES,
    )  # fmt: skip
    return TrainConfig(**{**settings, **values})


def test_the_field_round_trips_through_json():
    config = small_config()
    back = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config and back.factor_ranges == RANGES
    assert TrainConfig.from_dict({}).factor_ranges is None  # config.json files without the field


@pytest.mark.parametrize(
    "ranges, message",
    [
        ({}, "non-empty"),
        ({"f0": (2, 2)}, "0 <= lo < hi"),
        ({"f0": (-1, 2)}, "0 <= lo < hi"),
        ({"f0": (0.5, 2)}, "two integers"),
        ({"f0": (0, 1, 2)}, "two integers"),
    ],
)
def test_bad_ranges_are_config_errors(ranges, message):
    with pytest.raises(ConfigError, match=message):
        small_config(factor_ranges=ranges).checked()


def test_the_dataset_is_the_sub_grid_then_the_subset():
    full = data.load("gaussian")
    grid = load_dataset(small_config())
    assert grid.factor_sizes == (2, full.factor_sizes[1], 2, *full.factor_sizes[3:])
    assert len(grid) == int(np.prod(grid.factor_sizes))
    # the items are the parent's images of classes 1..2 of f0 and 0..1 of f2
    factors = grid.index_to_factors(np.arange(len(grid)))  # (N, K)
    parent = factors + np.array([1, 0, 0] + [0] * (len(full.factor_sizes) - 3))
    np.testing.assert_array_equal(
        grid.images(np.arange(len(grid))), full.images(full.factors_to_index(parent))
    )
    subset = load_dataset(small_config(subset=7))
    assert len(subset) == 7 and subset.factor_sizes == grid.factor_sizes


def test_a_run_trains_records_and_reopens_on_its_sub_grid(tmp_path):
    train(small_config(), tmp_path / "run", progress=False)
    dataset = json.loads((tmp_path / "run" / "config.json").read_text())["dataset"]
    assert dataset["factor_ranges"] == {"f0": [1, 3], "f2": [0, 2]}
    run = load_run(tmp_path / "run")
    assert run.dataset.factor_sizes[0] == 2 and run.config.factor_ranges == RANGES


def test_the_range_flag_repeats_as_in_minirtc_data(tmp_path):
    out = tmp_path / "run"
    args = "train --dataset gaussian --subset 0 --hidden 8 --latent-dim 2 --batch-size 16 --steps 5"
    args += f" --log-every 5 --eval-every 5 --checkpoint-every 5 --eval-size 50 --out {out}"
    result = CliRunner().invoke(main, [*args.split(), "--range", "f0=1:3", "--range", "f2=0:2"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())["train"]
    assert saved["factor_ranges"] == {"f0": [1, 3], "f2": [0, 2]}
