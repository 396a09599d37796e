"""Checks of a caller's options that fail with one plain line, whatever value comes in.

A huge int (``10**400``) has no float, so ``float(value)`` raises OverflowError; NaN compares
false with everything. These checks compare without converting and say what a valid value is.
"""

from __future__ import annotations

import math
from typing import TypeVar

from .errors import ConfigurationError

__all__ = [
    "bound_text",
    "check_number",
    "instance_or_none",
    "is_finite_number",
    "is_positive_seconds",
    "short_repr",
]

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


def check_number(
    name: str,
    value: object,
    *,
    low: float,
    high: float,
    integer: bool = False,
    optional: bool = False,
    unit: str = "",
    kind_in_range: bool = True,
) -> None:
    """Raise `ConfigurationError` unless `value` is a number (`integer`: an int) within
    ``[low, high]``; `optional`: None is allowed too. `name` is how the caller wrote it
    (``Limits.wall_time``, ``OpenAIChat(timeout=)``); `kind_in_range`: the range's message
    says the kind too ("a number between ..."). A bool is not a number; NaN and the infinities
    are outside every range; a huge int (``10**400``) is compared as given, never converted
    (``float()`` would overflow)."""
    if optional and value is None:
        return
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, kinds):
        none = " or None" if optional else ""
        raise ConfigurationError(f"{name} must be {kind}{none}, got {short_repr(value)}")
    if not low <= value <= high:  # type: ignore[operator]  # NaN fails it too
        said = f"{kind} between" if kind_in_range else "between"
        raise ConfigurationError(
            f"{name} must be {said} {bound_text(low)} and {bound_text(high)}"
            f"{' ' + unit if unit else ''}, got {short_repr(value)}"
        )


def bound_text(value: float) -> str:
    """A bound as code writes it: 0, 0.001, 4000, 86_400, 1_073_741_824 (never 86400.0)."""
    if float(value).is_integer():
        number = int(value)
        return f"{number:_}" if abs(number) >= 10_000 else str(number)
    return repr(float(value))
