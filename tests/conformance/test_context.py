"""Tools, middlewares and approval handlers run in the context of the code that called execute().

A web app's request-scoped values, a tracing span, or the MCP request an approval must be
asked on live in `contextvars`: whatever path a call takes (inline on the sandbox's thread,
on the event loop, in a worker thread, concurrently), it must see them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from codeact import CodeAct, tool
from codeact.calls.approvals import ApprovalRequest
from codeact.calls.call import ToolInvocation

REQUEST_USER: contextvars.ContextVar[str] = contextvars.ContextVar("request_user")


@tool
def whoami_sync() -> str:
    """The user of the request (a sync tool)."""
    return REQUEST_USER.get("nobody")


@tool
async def whoami_async() -> str:
    """The user of the request (an async tool)."""
    return REQUEST_USER.get("nobody")


@tool(approval_mode="always_require")
def gated_whoami() -> str:
    """The user of the request, after an approval."""
    return REQUEST_USER.get("nobody")


@tool
def leak() -> str:
    """Set the variable inside a call: the next call must not see it."""
    REQUEST_USER.set("leaked")
    return "set"


PROGRAM = """
import asyncio

async def both():
    return await asyncio.gather(call_tool_async("whoami_sync"), call_tool_async("whoami_async"))

[whoami_sync(), whoami_async(), gated_whoami(), leak(), whoami_sync(), *asyncio.run(both())]
"""


async def test_every_call_path_sees_the_callers_context_variables(
    make_codeact: Callable[..., CodeAct],
) -> None:
    seen: list[tuple[str, str]] = []

    async def approve(request: ApprovalRequest) -> bool:
        seen.append(("handler", REQUEST_USER.get("nobody")))
        return True

    codeact = make_codeact(
        tools=[whoami_sync, whoami_async, gated_whoami, leak], approval_handler=approve
    )
    token = REQUEST_USER.set("ann")
    try:
        result = await codeact.execute(PROGRAM)
    finally:
        REQUEST_USER.reset(token)
    assert result.ok, result.error
    assert result.value == ["ann", "ann", "ann", "set", "ann", "ann", "ann"]
    assert seen == [("handler", "ann")]
    assert REQUEST_USER.get("nobody") == "nobody"


async def test_middlewares_see_the_context_sync_and_async(
    make_codeact: Callable[..., CodeAct],
) -> None:
    seen: list[str] = []

    async def record(call: ToolInvocation, call_next: Any) -> Any:
        seen.append(f"{call.name}:{REQUEST_USER.get('nobody')}")
        return await call_next(call)

    codeact = make_codeact(tools=[whoami_sync, whoami_async], middleware=[record])
    REQUEST_USER.set("bob")  # this test's own context: pytest-asyncio runs each in a fresh one
    result = await codeact.execute("[whoami_sync(), whoami_async()]")
    assert result.ok and result.value == ["bob", "bob"]
    assert seen == ["whoami_sync:bob", "whoami_async:bob"]
