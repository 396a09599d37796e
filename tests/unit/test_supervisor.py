"""An execution stuck in a host call that cannot be interrupted still returns on time."""

from __future__ import annotations

import asyncio
import threading

import pytest

from codeact import CodeAct, Limits, tool

pytestmark = pytest.mark.usefixtures("wasm_ready")

release = threading.Event()


@tool(timeout=0.2)
def blocks_until_released() -> str:
    """A sync tool that ignores its timeout (it cannot be preempted)."""
    release.wait(10)
    return "released"


async def test_stuck_sync_tool_is_reported_and_the_caller_is_not_cancelled() -> None:
    release.clear()
    codeact = CodeAct(tools=[blocks_until_released], limits=Limits(wall_time=20))
    try:
        async with asyncio.timeout(15) if hasattr(asyncio, "timeout") else _nothing():
            result = await codeact.execute("blocks_until_released()")
            still_blocked = not release.is_set()  # the result came while the tool hung
            # The task was cancelled by our supervisor and that was taken back: the enclosing
            # timeout must not see it, and the task can go on awaiting.
            await asyncio.sleep(0)
    finally:
        release.set()
    assert result.error is not None and result.error.limit == "tool_timeout"
    assert still_blocked
    current = asyncio.current_task()
    assert current is not None
    if hasattr(current, "cancelling"):
        assert current.cancelling() == 0


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None
