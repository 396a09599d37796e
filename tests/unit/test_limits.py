"""Limits: documented defaults, a readable repr, precise errors for bad values."""

from __future__ import annotations

import pytest

from codeact import ConfigurationError, Limits


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
