"""Option types whose errors read as one plain line: ``must be greater than 0 (got -1)``.

click's own range types say ``'abc' is not a valid float range``; these say what a valid
value is, in the words of the option. The group in ``cli/__init__`` puts the option's name in
front: ``codeact: error: --timeout: must be greater than 0 (got -1)``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
else:  # click < 8.2 has no generic ParamType
    _ParamType = click.ParamType

__all__ = ["Number", "Size", "shown"]

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2}
_UNITS |= {"mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}


def _exact(number: float) -> str:
    """A bound exactly (``%g`` rounds to 6 digits and writes 1e+06)."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def shown(value: object, *, quote: bool = False) -> str:
    """A value as an error line shows it, cut to 40 characters: a 400-digit number given
    for a flag would make the one line of the error run over many."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]} ({len(text)} characters)"


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n:,} bytes"


class Number(_ParamType):
    """An int or float between `low` and `high`; `positive` also refuses 0."""

    def __init__(
        self,
        kind: type[int] | type[float] = float,
        *,
        low: float | None = None,
        high: float | None = None,
        positive: bool = False,
        what: str = "a number",
        span: bool = False,
    ) -> None:
        self.kind = kind
        self.span = span  # a value out of range: "must be from LOW to HIGH" (click's IntRange)
        self.low, self.high, self.positive = low, high, positive
        self.name = "integer" if kind is int else "number"
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number: float = value
        else:
            text = str(value).strip()
            try:
                number = int(text) if self.kind is int else float(text)
            except ValueError:
                self.fail(f"must be {self.what} (got {shown(value, quote=True)})", param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"must be a finite number (got {shown(value)})", param, ctx)
        if self.positive and number <= 0:
            self.fail(f"must be greater than 0 (got {shown(value)})", param, ctx)
        low, high = self.low, self.high
        if self.span and low is not None and high is not None and not low <= number <= high:
            bounds = f"{_exact(low)} to {_exact(high)}"
            self.fail(f"must be from {bounds} (got {shown(value)})", param, ctx)
        if self.low is not None and number < self.low:
            self.fail(f"must be at least {_exact(self.low)} (got {shown(value)})", param, ctx)
        if self.high is not None and number > self.high:
            self.fail(f"must be at most {_exact(self.high)} (got {shown(value)})", param, ctx)
        return self.kind(number)


class Size(_ParamType):
    """A size in bytes: ``2000000``, ``512k``, ``10MB``, ``1GiB`` (k, M, G are powers of 1024)."""

    name = "size"

    def __init__(self, *, low: int = 1, high: int = 1 << 30) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            size = value
        else:
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
            unit = match.group(2).lower() if match else ""
            if match is None or unit not in _UNITS:
                got = shown(value, quote=True)
                self.fail(f"must be a size such as 2000000, 512k or 10MB (got {got})", param)
            # Exact, with no float: 1.5k is 1536, and a 400-digit size is only too large
            # (a float of it would be inf, and int(inf) raises OverflowError).
            size = int(Fraction(match.group(1)) * _UNITS[unit])
        if size < self.low:
            self.fail(f"must be at least {_bytes(self.low)} (got {shown(value)})", param, ctx)
        if size > self.high:
            most = f"{self.high // 1024**2} MiB"
            self.fail(f"must be at most {most} (got {shown(value)})", param, ctx)
        return size
