"""A sync tool that blocks past a limit: the sandbox cannot interrupt it, and the caller gets
its result at the limit (within the supervisor's poll), not half a second later."""

from __future__ import annotations

import time
from collections.abc import Callable

from codeact import CodeAct, Limits, tool

#: How late a result may come: the supervisor's poll and a busy machine's scheduling.
SLACK = 0.3


@tool
def stuck(seconds: float) -> str:
    """Block the host thread."""
    time.sleep(seconds)
    return "done"


async def test_wall_time_inside_a_sync_tool_ends_at_the_limit(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[stuck], limits=Limits(wall_time=1, tool_timeout=10))
    await codeact.execute("1")  # warm
    began = time.perf_counter()
    result = await codeact.execute("print('go')\nstuck(seconds=3)")
    took = time.perf_counter() - began
    assert result.error is not None and result.error.limit == "wall_time", result.error
    assert result.stdout == "go\n"
    assert 1.0 <= took < 1.0 + SLACK, took


async def test_a_tool_timeout_of_a_sync_tool_ends_at_the_limit(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[stuck], limits=Limits(wall_time=20, tool_timeout=0.5))
    await codeact.execute("1")  # warm
    began = time.perf_counter()
    result = await codeact.execute("stuck(seconds=3)")
    took = time.perf_counter() - began
    assert result.error is not None and result.error.limit == "tool_timeout", result.error
    assert 0.5 <= took < 0.5 + SLACK, took
    assert [c.outcome for c in result.tool_calls] == ["timeout"]
