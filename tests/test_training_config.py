"""TrainConfig holds the core's ObjectiveConfig whole: every objective setting reaches files and flags."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from minirtc.cli import main
from minirtc.errors import ConfigError
from minirtc.objectives import ObjectiveConfig
from minirtc.training import config as config_module
from minirtc.training.config import TrainConfig, config_differences
from minirtc.training.profiles import PROFILES, profile_config


def test_the_objective_is_held_whole_and_round_trips():
    config = TrainConfig(model="beta-tcvae", beta=3.0, likelihood="gaussian", chunk_size=16, steps=5)
    assert config.objective == ObjectiveConfig(
        model="beta-tcvae", beta=3.0, likelihood="gaussian", chunk_size=16
    )
    assert config.model == "beta-tcvae"
    saved = json.loads(json.dumps(config.to_dict()))
    assert saved["objective"]["chunk_size"] == 16 and "beta" not in saved
    assert TrainConfig.from_dict(saved) == config
    assert dataclasses.replace(config, beta=5.0).objective.beta == 5.0  # flat names reach the objective


def test_an_old_flat_config_json_still_loads(tmp_path):
    old = {"train": {"model": "factor-vae", "gamma": 4.0, "tc_estimator": None, "steps": 7, "seed": 2}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    config = TrainConfig.from_file(path)
    assert (config.objective.model, config.objective.gamma, config.steps, config.seed) == (
        "factor-vae",
        4.0,
        7,
        2,
    )


@pytest.mark.parametrize(
    "values, message",
    [
        ({"modle": "vae"}, "modle"),
        ({"objective": {"likelyhood": "gaussian"}}, "likelyhood"),
        ({"objective": 3}, "mapping"),
    ],
)
def test_unknown_settings_are_refused_with_their_name(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(values)


def test_config_errors_are_one_type():
    assert config_module.ConfigError is ConfigError
    with pytest.raises(ConfigError, match="chunk_size"):
        TrainConfig(chunk_size=0).checked()


def test_likelihood_and_chunk_size_are_cli_flags():
    result = CliRunner().invoke(
        main,
        ["train", "--likelihood", "gaussian", "--chunk-size", "32", "--model", "annealed-vae", "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    objective = json.loads(result.output)["objective"]
    assert (objective["likelihood"], objective["chunk_size"], objective["model"]) == (
        "gaussian",
        32,
        "annealed-vae",
    )


def test_one_table_of_profiles():
    assert set(PROFILES) >= {"classroom", "laptop", "paper"}
    for name in PROFILES:
        assert profile_config(name).checked() is not None
        for model in PROFILES[name].per_model:  # a model's own settings must pass the checks too
            assert profile_config(name, model).checked().model == model
    with pytest.raises(ConfigError, match="unknown profile 'cluster'"):
        profile_config("cluster")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_train_and_sweep_start_a_profile_from_the_same_settings(name):
    from minirtc.experiments.sweep import RunSpec, make_spec
    from minirtc.experiments.sweep.grid import WEIGHT_FIELD

    profile = PROFILES[name]
    spec = make_spec(name, profile.datasets[0])
    for model in profile.models:
        swept = spec.config(RunSpec(model, profile.betas[0], profile.seeds[0]))
        trained = profile_config(name, model)
        if model in profile.sweep_per_model:  # declared: the sweep's own settings replace train's
            own = profile.sweep_per_model[model]
            trained = TrainConfig.from_dict({**profile.train, **own, "model": model})
        ignore = (WEIGHT_FIELD[model], "seed", "dataset", "extra")
        assert config_differences(swept, trained, ignore=ignore) == [], (name, model)
        assert trained.model == model


def test_the_cpu_sweep_compares_the_papers_discriminator_models():
    """`train --profile cpu --model rtc-vae` uses a minibatch estimator; its sweep keeps the paper's."""
    from minirtc.experiments.sweep import RunSpec, make_spec

    spec = make_spec("cpu", "dsprites-procedural")
    swept = {m: spec.config(RunSpec(m, spec.betas[0], 0)).checked() for m in ("factor-vae", "rtc-vae")}
    assert {c.objective.resolved().tc_estimator for c in swept.values()} == {"discriminator"}
    weights = ("model", "beta", "gamma", "eta", "extra")  # the same training, only the objective differs
    assert config_differences(swept["factor-vae"], swept["rtc-vae"], ignore=weights) == []
    assert swept["rtc-vae"].objective.eta == 10.0
    trained = profile_config("cpu", "rtc-vae").checked()
    assert trained.objective.tc_estimator == "mss1" and trained.batch_size == 2048


def test_a_profiles_model_settings_reach_train_and_flags_still_win():
    laptop = PROFILES["laptop"]
    assert laptop.per_model["rtc-vae"] == {"eta": 10.0}
    assert profile_config("laptop", "rtc-vae").objective.eta == 10.0
    assert profile_config("laptop", "factor-vae").objective.eta is None
    from minirtc.cli.train import build_config

    config = build_config("laptop", None, None, {"model": "rtc-vae", "eta": 3.0})
    assert config.objective.eta == 3.0 and config.hidden == (256, 256)
