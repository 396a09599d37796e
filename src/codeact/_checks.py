"""Checks of a caller's options that fail with one plain line, whatever value comes in.

A huge int (``10**400``) has no float, so ``float(value)`` raises OverflowError; NaN compares
false with everything. These checks compare without converting and say what a valid value is.
"""

from __future__ import annotations

import math
from typing import TypeVar

from .errors import ConfigurationError

__all__ = ["instance_or_none", "is_finite_number", "is_positive_seconds", "short_repr"]

_T = TypeVar("_T")


def instance_or_none(name: str, value: object, kind: type[_T]) -> _T | None:
    """`value` if it is None or a `kind`; else ConfigurationError naming the option.

    ``limits={"wall_time": 1}`` fails here, as one line, instead of an AttributeError deep
    inside the run.
    """
    if value is None or isinstance(value, kind):
        return value
    raise ConfigurationError(
        f"{name} must be a codeact.{kind.__name__}, got {type(value).__name__}"
    )


def is_finite_number(value: object) -> bool:
    """An int or float (not a bool) that a float can hold: not NaN, not ±inf, not 10**400."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return -(2**1023) < value < 2**1023
    return math.isfinite(value)


def is_positive_seconds(value: object) -> bool:
    """A finite number of seconds above 0 (a timer can take it)."""
    return is_finite_number(value) and value > 0  # type: ignore[operator]


def short_repr(value: object) -> str:
    """`repr(value)` cut to 40 characters, so an error about ``10**400`` stays one short line."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]} ({len(text)} characters)"
