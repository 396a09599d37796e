"""`ExecutionResult.timings` carries the same keys whatever ended the program: a stop while a
sync tool blocks, an `interrupt()` and a block that was not approved included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from codeact import CodeAct, ExecutionResult, Limits, tool
from codeact.calls.approvals import ApprovalRequest

KEYS = {"setup_ms", "run_ms", "tools_ms", "approval_ms", "total_ms"}


@tool
def block(seconds: float) -> str:
    """Block the host thread."""
    time.sleep(seconds)
    return "done"


def _check(result: ExecutionResult, limit: str | None) -> None:
    assert result.error is not None and result.error.limit == limit, result.error
    assert set(result.timings) >= KEYS, sorted(result.timings)
    assert all(result.timings[k] >= 0.0 for k in KEYS)


async def test_a_tool_timeout_in_a_sync_tool_has_every_key(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[block], limits=Limits(wall_time=20, tool_timeout=0.3))
    result = await codeact.execute("block(seconds=2)")
    _check(result, "tool_timeout")
    # The program ran (blocked in the tool) until it was stopped: measured, not 0.
    assert result.timings["run_ms"] >= 250
    assert result.timings["setup_ms"] + result.timings["run_ms"] <= result.timings["total_ms"]


async def test_wall_time_inside_a_sync_tool_has_every_key(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[block], limits=Limits(wall_time=0.5, tool_timeout=10))
    result = await codeact.execute("block(seconds=2)")
    _check(result, "wall_time")
    assert result.timings["run_ms"] >= 400


async def test_an_interrupted_program_has_every_key(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact()
    running = asyncio.ensure_future(codeact.execute("while True: pass"))
    await asyncio.sleep(0.5)
    codeact.interrupt()
    result = await running
    assert result.error is not None and result.error.type == "KeyboardInterrupt"
    assert set(result.timings) >= KEYS, sorted(result.timings)


async def test_a_block_not_approved_has_every_key(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def deny(request: ApprovalRequest) -> bool:
        return False

    codeact = make_codeact(tools=[block], approval_handler=deny, approval_mode="always_require")
    result = await codeact.execute("block(seconds=0)")
    assert result.error is not None and result.error.type == "ToolDenied"
    assert set(result.timings) >= KEYS, sorted(result.timings)
    assert result.timings["setup_ms"] == result.timings["run_ms"] == 0.0


async def test_a_finished_program_has_every_key(make_codeact: Callable[..., CodeAct]) -> None:
    result = await make_codeact().execute("1 + 1")
    assert result.ok and set(result.timings) >= KEYS, sorted(result.timings)
