"""Errors shared by the layers (raised by backends, caught by training and the CLI)."""

from __future__ import annotations


class NonFiniteLoss(FloatingPointError):
    """A loss term became NaN or inf; names the first step and term where it did."""

    def __init__(self, step: int, term: str):
        super().__init__(f"loss term {term!r} became NaN or inf at step {step}")
        self.step = step
        self.term = term


class ConfigError(ValueError):
    """A setting is out of range, unknown, or inconsistent with another."""
