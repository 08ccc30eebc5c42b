"""The seed grammar shared by `train --seeds`, `sweep --seeds` and config files.

A list of seeds is written as comma-separated single seeds and inclusive ranges,
`0-4,7` -> (0, 1, 2, 3, 4, 7).  Seeds are integers >= 0, each named once, at most
MAX_SEEDS of them.  `parse_seeds` reads that text; `as_seeds` also takes what a JSON
config holds (the text, one integer, or a list of integers).  Both give the seeds in
increasing order and raise `ConfigError` with one line saying what is wrong.
"""

from __future__ import annotations

import numbers
import re
from collections import Counter
from collections.abc import Sequence

from minirtc.errors import ConfigError

MAX_SEEDS = 1000  # a typo like 0-99999 should not allocate a hundred thousand models
EXAMPLE = "0-4,7"  # quoted in the error messages
# One comma-separated part: a seed, or a range low-high (a leading "-" is a minus sign).
_PART = re.compile(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?")


def parse_seeds(text: str) -> tuple[int, ...]:
    """ "0-4,7" -> (0, 1, 2, 3, 4, 7); ConfigError on anything that is not such a list."""
    if not text.strip():
        raise ConfigError(f"no seeds given; write them like {EXAMPLE}")
    seeds: list[int] = []
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if match is None:
            raise ConfigError(
                f"seeds must look like {EXAMPLE} (integers >= 0 and ranges low-high, comma-separated); "
                f"got {text!r}"
            )
        low = int(match[1])
        high = low if match[2] is None else int(match[2])
        _check_non_negative(min(low, high), text)
        if high < low:
            raise ConfigError(f"seeds must not run backwards: write {high}-{low}, not {part.strip()!r}")
        _check_count(len(seeds) + high - low + 1, text)  # before the range is built
        seeds.extend(range(low, high + 1))
    return _checked(seeds, repr(text))


def as_seeds(value: str | int | Sequence[int]) -> tuple[int, ...]:
    """The seeds a config value names: text in the grammar, one integer, or a list of integers."""
    if isinstance(value, str):
        return parse_seeds(value)
    values = [value] if _is_int(value) else value
    if not isinstance(values, Sequence) or not all(_is_int(v) for v in values):
        raise ConfigError(f"seeds must be text like {EXAMPLE!r} or a list of integers; got {value!r}")
    seeds = [int(v) for v in values]
    if not seeds:
        raise ConfigError(f"no seeds given; write them like {EXAMPLE}")
    _check_non_negative(min(seeds), value)
    _check_count(len(seeds), value)
    return _checked(seeds, repr(list(seeds)))


def _checked(seeds: list[int], source: str) -> tuple[int, ...]:
    """`seeds` sorted, after refusing any seed named twice."""
    repeated = sorted(seed for seed, count in Counter(seeds).items() if count > 1)
    if repeated:
        named = f"seed {repeated[0]} appears" if len(repeated) == 1 else f"seeds {repeated} appear"
        raise ConfigError(f"{named} more than once in {source}; name each seed once")
    return tuple(sorted(seeds))


def _check_non_negative(lowest: int, source: object) -> None:
    if lowest < 0:
        raise ConfigError(f"seeds must be >= 0; got {lowest} in {source!r}")


def _check_count(count: int, source: object) -> None:
    if count > MAX_SEEDS:
        raise ConfigError(f"at most {MAX_SEEDS} seeds at once; {source!r} names {count} or more")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
