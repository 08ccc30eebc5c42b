"""The one seed grammar (`0-4,7`): every case in one table, and `train`/`sweep` refusing alike."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from minirtc.errors import ConfigError
from minirtc.training.seeds import MAX_SEEDS, as_seeds, parse_seeds

# (text, the seeds it names, or the start of the one-line error it raises)
CASES = [
    ("3", (3,)),
    ("0-4", (0, 1, 2, 3, 4)),
    ("0-4,7", (0, 1, 2, 3, 4, 7)),
    ("0,3,7", (0, 3, 7)),
    ("7,0-2", (0, 1, 2, 7)),  # listed in any order, returned in increasing order
    ("0-2, 10", (0, 1, 2, 10)),  # spaces around parts and dashes are fine
    (" 1 - 3 ", (1, 2, 3)),
    ("5-5", (5,)),
    ("0-999", tuple(range(MAX_SEEDS))),  # exactly the most allowed
    ("1,1", "seed 1 appears more than once in '1,1'"),
    ("0-2,1", "seed 1 appears more than once in '0-2,1'"),
    ("0-3,2-5", "seeds [2, 3] appear more than once in '0-3,2-5'"),
    ("07,7", "seed 7 appears more than once"),  # the same seed written twice
    ("4-1", "seeds must not run backwards: write 1-4, not '4-1'"),
    ("-1", "seeds must be >= 0; got -1 in '-1'"),
    ("-3--1", "seeds must be >= 0; got -3"),
    ("2--1", "seeds must be >= 0; got -1"),
    ("", "no seeds given; write them like 0-4,7"),
    ("  ", "no seeds given"),
    ("a", "seeds must look like 0-4,7"),
    ("1-", "seeds must look like 0-4,7"),
    ("0,,2", "seeds must look like 0-4,7"),
    ("1 2", "seeds must look like 0-4,7"),
    ("1.5", "seeds must look like 0-4,7"),
    ("0-1000", f"at most {MAX_SEEDS} seeds at once; '0-1000' names 1001"),
    ("0-99999999999", f"at most {MAX_SEEDS} seeds at once"),  # refused before the range is built
    ("0-500,600-1200", f"at most {MAX_SEEDS} seeds at once"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_seed_grammar(text, expected):
    if isinstance(expected, tuple):
        assert parse_seeds(text) == expected
        assert as_seeds(text) == expected
        return
    with pytest.raises(ConfigError) as error:
        parse_seeds(text)
    assert str(error.value).startswith(expected)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "value, expected",
    [
        (4, (4,)),
        ([2, 0, 1], (0, 1, 2)),
        ([np.int64(2), np.int64(0)], (0, 2)),  # NumPy integers count as integers
        ("0-2", (0, 1, 2)),
        ([1, 1], "seed 1 appears more than once in [1, 1]"),
        ([], "no seeds given"),
        ([-2], "seeds must be >= 0; got -2"),
        ([True], "seeds must be text like '0-4,7' or a list of integers"),
        ([1.0], "seeds must be text like '0-4,7' or a list of integers"),
        (None, "seeds must be text like '0-4,7' or a list of integers"),
        (list(range(MAX_SEEDS + 1)), f"at most {MAX_SEEDS} seeds at once"),
    ],
)
def test_config_values_follow_the_same_grammar(value, expected):
    """A JSON config (sweep.json, a config file) may hold the text, one integer or a list."""
    if isinstance(expected, tuple):
        assert as_seeds(value) == expected
        return
    with pytest.raises(ConfigError, match="^" + expected.replace("[", r"\[").replace("]", r"\]")):
        as_seeds(value)


@pytest.mark.parametrize("text", ["1,1", "0-2,1", "4-1", "-1", "", "a", "0-5000"])
def test_train_and_sweep_refuse_bad_seeds_with_the_same_line(text, tmp_path):
    from minirtc.cli import main

    runner = CliRunner()
    train = runner.invoke(main, ["train", "--seeds", text, "--dry-run"])
    sweep = runner.invoke(
        main, ["sweep", "--seeds", text, "--dataset", "gaussian", "--out", str(tmp_path), "--dry-run"]
    )
    assert train.exit_code == sweep.exit_code == 2  # a usage error, no traceback
    assert train.exception is None or isinstance(train.exception, SystemExit)
    # one line each, the same message, then the command's own pointer to its --help
    train_line, sweep_line = (result.output.strip().splitlines() for result in (train, sweep))
    assert len(train_line) == len(sweep_line) == 1
    message = f"Error: Invalid value for '--seeds': {parse_error(text)}"
    assert train_line[0] == f"{message} (see 'main train --help')"
    assert sweep_line[0] == f"{message} (see 'main sweep --help')"


def parse_error(text: str) -> str:
    with pytest.raises(ConfigError) as error:
        parse_seeds(text)
    return str(error.value)


def test_a_saved_sweep_with_repeated_seeds_is_refused(tmp_path):
    """sweep.json is a config file too: its seeds are read with the same grammar."""
    import json

    from minirtc.experiments.sweep import SweepError, make_spec, read_spec

    spec = make_spec("laptop", "gaussian", seeds=(0, 1)).to_dict()
    (tmp_path / "sweep.json").write_text(json.dumps({"format": 1, "spec": {**spec, "seeds": [0, 1, 1]}}))
    with pytest.raises(SweepError, match="seed 1 appears more than once"):
        read_spec(tmp_path)
    with pytest.raises(SweepError, match="seed 2 appears more than once"):
        make_spec("laptop", "gaussian", seeds=(2, 0, 2))
