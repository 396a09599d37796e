"""Limits: documented defaults, a readable repr, precise errors for bad values."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from codeact import (
    CodeAct,
    ConfigurationError,
    Limits,
    NetworkLimits,
    OutputLimits,
    ToolDefinitionError,
    tool,
)
from codeact.calls.middleware import RateLimit


def test_defaults_match_the_documentation() -> None:
    limits = Limits()
    assert (limits.wall_time, limits.memory_mb, limits.output_bytes) == (30.0, 256, 1 << 20)
    assert (limits.tool_calls, limits.tool_timeout) == (200, 30.0)
    assert repr(limits) == (
        "Limits(wall_time=30s, memory=256 MiB, output=1 MiB, tool_calls=200, tool_timeout=30s)"
    )


def test_a_changed_quiet_limit_shows_in_the_repr() -> None:
    assert repr(Limits(state_bytes=1 << 20)).endswith("tool_timeout=30s, state_bytes=1 MiB)")


def test_replace_returns_a_changed_copy() -> None:
    limits = Limits().replace(wall_time=5)
    assert limits.wall_time == 5 and Limits().wall_time == 30
    assert limits.describe("wall_time") == "wall_time=5s"


GIB = "1_073_741_824"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_bytes": 0}, f"Limits.output_bytes must be between 1 and {GIB} bytes, got 0"),
        ({"tool_calls": -1}, "Limits.tool_calls must be between 0 and 1_000_000, got -1"),
        ({"wall_time": 0}, "Limits.wall_time must be between 0.001 and 86_400 seconds, got 0"),
        ({"state_bytes": 1}, f"Limits.state_bytes must be between 1024 and {GIB} bytes, got 1"),
    ],
)  # fmt: skip
def test_bounds_are_exact_numbers_not_scientific_notation(
    kwargs: dict[str, object], message: str
) -> None:
    # They read "between 1 and 1.07374e+09" and "1e+06": neither exact nor how code writes them.
    with pytest.raises(ConfigurationError) as raised:
        Limits(**kwargs)  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert Limits(wall_time=12.3456789).describe("wall_time") == "wall_time=12.3456789s"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"wall_time": 0}, "Limits.wall_time must be between"),
        ({"wall_time": "10"}, "Limits.wall_time must be a number"),
        ({"memory_mb": 8}, "Limits.memory_mb must be between 32 and 4000 MiB"),
        ({"memory_mb": 64.5}, "whole number"),
        ({"tool_calls": -1}, "Limits.tool_calls"),
        ({"output_bytes": True}, "whole number"),
    ],
)
def test_bad_values_say_what_is_allowed(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Limits(**kwargs)  # type: ignore[arg-type]


BIG = 10**400
SHOWN = "100000000000000000...000000000000000000 (401 characters)"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Limits(memory_mb=BIG), f"Limits.memory_mb must be between 32 and 4000 MiB, got {SHOWN}"),  # noqa: E501
        (lambda: Limits(wall_time=BIG), f"Limits.wall_time must be between 0.001 and 86_400 seconds, got {SHOWN}"),  # noqa: E501
        (lambda: Limits().replace(tool_calls=-BIG), "Limits.tool_calls must be between 0 and 1_000_000, got -1000"),  # noqa: E501
        (lambda: Limits(approval_wait=float("nan")), "Limits.approval_wait must be between"),
        (lambda: Limits().replace(wall_tim=5), "Limits has no field 'wall_tim'; its fields are wall_time, memory_mb"),  # noqa: E501
        (lambda: OutputLimits(max_files=BIG), f"OutputLimits.max_files must be a whole number from 0 to 10000, got {SHOWN}"),  # noqa: E501
        (lambda: NetworkLimits(timeout=-BIG), "NetworkLimits.timeout must be a number of seconds from 0.001 to 3600, got -1000"),  # noqa: E501
    ],
)  # fmt: skip
def test_a_huge_or_nan_limit_is_a_configuration_error_not_an_overflow(
    make: Callable[[], object], message: str
) -> None:
    # float(10**400) raised a bare OverflowError from Limits.
    with pytest.raises(ConfigurationError) as raised:
        make()
    assert str(raised.value).startswith(message)
    assert len(str(raised.value)) < 240  # not 400 digits


def _entry_points(codeact: CodeAct, limits: Any) -> dict[str, Callable[[], object]]:
    async def run(make: Callable[[], Any]) -> object:
        result = make()
        if hasattr(result, "__anext__"):
            return await result.__anext__()
        return await result

    return {
        "CodeAct.execute": lambda: asyncio.run(run(lambda: codeact.execute("1", limits=limits))),
        "CodeAct.stream": lambda: codeact.stream("1", limits=limits),
        "CodeAct.execute_sync": lambda: codeact.execute_sync("1", limits=limits),
        "CodeAct.session": lambda: codeact.session(limits=limits),
        "Session.execute": lambda: asyncio.run(
            run(lambda: codeact.session().execute("1", limits=limits))
        ),
        "Session.execute_sync": lambda: codeact.session().execute_sync("1", limits=limits),
        "CodeAct(limits=)": lambda: CodeAct(limits=limits),
    }


@pytest.mark.parametrize("limits", [{"wall_time": 1}, 5, Limits, OutputLimits()])
def test_every_entry_point_refuses_limits_of_the_wrong_type_in_one_line(limits: object) -> None:
    # execute_sync(limits={...}) raised AttributeError: 'dict' object has no attribute ...
    with CodeAct(backend="wasm") as codeact:
        for name, call in _entry_points(codeact, limits).items():
            with pytest.raises(ConfigurationError) as raised:
                call()
            expected = f"limits must be a codeact.Limits, got {type(limits).__name__}"
            assert str(raised.value) == expected, name


@pytest.mark.parametrize(
    ("option", "kind"), [("output_limits", "OutputLimits"), ("network_limits", "NetworkLimits")]
)
def test_output_and_network_limits_of_the_wrong_type_are_refused(option: str, kind: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{option} must be a codeact.{kind}, got dict$"):
        CodeAct(**{option: {"max_files": 1}})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "seconds",
    [10**400, float("nan"), float("inf"), -(10**400)],
    ids=["huge", "nan", "inf", "minus-huge"],
)
def test_seconds_options_refuse_huge_and_nan_values_in_one_line(seconds: float) -> None:
    def probe(x: int) -> int:
        return x

    with pytest.raises(ConfigurationError, match="approval_timeout must be positive seconds"):
        CodeAct(approval_timeout=seconds)
    with pytest.raises(ConfigurationError, match="RateLimit per must be positive seconds"):
        RateLimit(1, per=seconds)
    with pytest.raises(ToolDefinitionError, match="timeout of tool 'probe' must be a positive"):
        tool(timeout=seconds)(probe)
