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
