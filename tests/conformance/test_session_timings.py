"""A session's results carry `state_restore_ms` and `state_save_ms` whatever ended the call:
0.0 for a step that did not happen, else the time measured (docs/observability.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from codeact import CodeAct, ExecutionResult, Limits, tool
from codeact.calls.approvals import ApprovalRequest

STATE_KEYS = {"state_restore_ms", "state_save_ms"}


@tool
def block(seconds: float) -> str:
    """Block the host thread."""
    time.sleep(seconds)
    return "done"


def _check(result: ExecutionResult) -> None:
    assert set(result.timings) >= STATE_KEYS, sorted(result.timings)
    assert all(result.timings[k] >= 0.0 for k in STATE_KEYS)


async def test_stopped_and_interrupted_session_calls_have_both_keys(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact(tools=[block]).session()
    first = await session.execute("x = 1")
    _check(first)
    stopped = await session.execute("while True: pass", limits=Limits(wall_time=0.3))
    assert stopped.error is not None and stopped.error.limit == "wall_time"
    _check(stopped)
    timed_out = await session.execute("block(seconds=2)", limits=Limits(tool_timeout=0.3))
    assert timed_out.error is not None and timed_out.error.limit == "tool_timeout"
    _check(timed_out)
    running = asyncio.ensure_future(session.execute("while True: pass"))
    await asyncio.sleep(0.5)
    session.codeact.interrupt()
    interrupted = await running
    assert interrupted.error is not None and interrupted.error.type == "KeyboardInterrupt"
    _check(interrupted)
    assert (await session.execute("x")).value == 1  # none of them changed the state


async def test_a_session_block_not_approved_has_both_keys_at_zero(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def deny(request: ApprovalRequest) -> bool:
        return False

    codeact = make_codeact(tools=[block], approval_handler=deny, approval_mode="always_require")
    result = await codeact.session().execute("block(seconds=0)")
    assert result.error is not None and result.error.type == "ToolDenied"
    _check(result)
    assert result.timings["state_restore_ms"] == result.timings["state_save_ms"] == 0.0
