"""`Limits`: the resource limits of one execution, as a small immutable value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .._checks import check_number
from ..errors import ConfigurationError

__all__ = ["LIMIT_NAMES", "LimitName", "Limits"]

#: ``output_files`` (OutputLimits) and ``network`` (NetworkLimits) are limits of the grants.
LimitName: TypeAlias = Literal[
    "wall_time",
    "memory",
    "output",
    "tool_calls",
    "tool_timeout",
    "output_files",
    "network",
    "approvals",
    "code",
    "open_files",
]
LIMIT_NAMES: tuple[LimitName, ...] = (
    "wall_time",
    "memory",
    "output",
    "tool_calls",
    "tool_timeout",
    "output_files",
    "network",
    "approvals",
    "code",
    "open_files",
)

_MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Hard limits for one execution of model code. Each one stops the program when hit.

    =================  ==========  ==========================================================
    field              default     what happens when it is hit
    =================  ==========  ==========================================================
    ``wall_time``      30 s        the program is stopped; time waiting for a person to
                                   approve a call does not count
    ``memory_mb``      256 MiB     allocation fails: the program gets a ``MemoryError``;
                                   uncaught, the result names the ``memory`` limit
    ``output_bytes``   1 MiB       stdout + stderr beyond it are cut, and so is the text
                                   of a larger last-line value; the result says how many
                                   bytes were dropped (``value_truncated``: the value's)
    ``tool_calls``     200         the call past the limit stops the program
    ``tool_timeout``   30 s        a tool call that takes longer stops the program
                                   (a tool's own ``timeout=`` overrides it)
    ``state_bytes``    16 MiB      a session's state (`CodeAct.session`) larger than this
                                   after a call is not kept: the session keeps its state
                                   from before the call, and the result says so
    ``tool_argument_   4 MiB       a call whose JSON arguments are larger fails with a
    bytes``                        ``ToolError`` naming this limit; the host parses nothing
                                   of it (and, on process backends, reads no larger frame).
                                   So does a call holding more than 100,000 lists and
                                   objects, and one started while the program's unfinished
                                   calls hold 4 times this limit (docs/performance.md)
    ``tool_result_     16 MiB      a tool result whose JSON is larger is not sent: the
    bytes``                        program gets a ``ToolError`` naming this limit
    ``approval_        20          once this many of a program's approval requests were
    denials``                      denied or unanswered, its next request stops it (e.g.
                                   one that asks again after each ``ToolDenied``)
    ``approval_wait``  600 s       the total time one program may wait for people to
                                   decide; past it the program is stopped
    ``code_bytes``     1 MiB       a program whose text (UTF-8) is larger is not run, nor
                                   read on the host: the result names the ``code`` limit
    =================  ==========  ==========================================================

    The last six are shown in the repr only when changed.

    >>> Limits(wall_time=10)
    Limits(wall_time=10s, memory=256 MiB, output=1 MiB, tool_calls=200, tool_timeout=30s)
    """

    wall_time: float = 30.0
    memory_mb: int = 256
    output_bytes: int = _MIB
    tool_calls: int = 200
    tool_timeout: float = 30.0
    state_bytes: int = 16 * _MIB
    tool_argument_bytes: int = 4 * _MIB
    tool_result_bytes: int = 16 * _MIB
    approval_denials: int = 20
    approval_wait: float = 600.0
    code_bytes: int = _MIB

    def __post_init__(self) -> None:
        _check_number("wall_time", self.wall_time, low=0.001, high=86_400.0, unit="seconds")
        _check_number("memory_mb", self.memory_mb, low=32, high=4000, unit="MiB", integer=True)
        _check_number(
            "output_bytes", self.output_bytes, low=1, high=1 << 30, unit="bytes", integer=True
        )
        _check_number("tool_calls", self.tool_calls, low=0, high=1_000_000, integer=True)
        _check_number("tool_timeout", self.tool_timeout, low=0.001, high=86_400.0, unit="seconds")
        for name, low in (
            ("state_bytes", 1024),
            ("tool_argument_bytes", 2),
            ("tool_result_bytes", 4),
            ("code_bytes", 16),
        ):
            value = getattr(self, name)
            _check_number(name, value, low=low, high=1 << 30, unit="bytes", integer=True)
        _check_number(
            "approval_denials", self.approval_denials, low=0, high=1_000_000, integer=True
        )
        _check_number(
            "approval_wait", self.approval_wait, low=0.001, high=7 * 86_400.0, unit="seconds"
        )

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * _MIB

    def replace(self, **changes: Any) -> Limits:
        """A copy with some fields changed: ``limits.replace(wall_time=5)``."""
        unknown = sorted(set(changes) - _FIELD_NAMES)
        if unknown:
            fields = ", ".join(_FIELD_NAMES_ORDERED)
            raise ConfigurationError(f"Limits has no field {unknown[0]!r}; its fields are {fields}")
        return dataclasses.replace(self, **changes)

    def describe(self, limit: LimitName) -> str:
        """Human-readable value of one limit, e.g. ``'wall_time=10s'``."""
        return f"{limit}={self._values().get(limit, '(see OutputLimits/NetworkLimits)')}"

    def _values(self) -> dict[LimitName, str]:
        return {
            "wall_time": f"{_num(self.wall_time)}s",
            "memory": f"{self.memory_mb} MiB",
            "output": _size(self.output_bytes),
            "tool_calls": str(self.tool_calls),
            "tool_timeout": f"{_num(self.tool_timeout)}s",
            "approvals": f"{self.approval_denials} denials, {_num(self.approval_wait)}s in all",
            "code": _size(self.code_bytes),
        }

    def describe_size(
        self, field: Literal["tool_argument_bytes", "tool_result_bytes", "code_bytes"]
    ) -> str:
        """``'Limits.tool_result_bytes=16 MiB'``: a size limit as error messages name it."""
        return f"Limits.{field}={_size(getattr(self, field))}"

    def __repr__(self) -> str:
        values: dict[str, str] = {str(k): v for k, v in self._values().items()}
        del values["approvals"], values["code"]
        for name in _QUIET_FIELDS:
            value = getattr(self, name)
            if value != _DEFAULTS[name]:
                values[name] = _size(value) if name.endswith("_bytes") else _num(value)
        inner = ", ".join(f"{k}={v}" for k, v in values.items())
        return f"Limits({inner})"


_QUIET_FIELDS = (
    "state_bytes",
    "tool_argument_bytes",
    "tool_result_bytes",
    "approval_denials",
    "approval_wait",
    "code_bytes",
)
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Limits)}
_FIELD_NAMES_ORDERED = tuple(_DEFAULTS)
_FIELD_NAMES = frozenset(_DEFAULTS)


def _num(value: float) -> str:
    """A number as given, exactly: 30, 0.5, 12.345 (``%g`` would round to 6 digits)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _size(n: int) -> str:
    if n % _MIB == 0:
        return f"{n // _MIB} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def _check_number(name: str, value: object, **bounds: Any) -> None:
    """`check_number` for the field `name` (``Limits.wall_time must be between ...``)."""
    check_number(f"Limits.{name}", value, kind_in_range=False, **bounds)
