"""Tools and steps the Agent Framework approval tests share (with the framework's Agent)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agent_framework import Agent, FunctionInvocationContext, Message, function_middleware, tool

NextHandler = Callable[[], Awaitable[None]]


def final(text: str) -> Message:
    return Message(role="assistant", contents=[text])


def make_tools(ran: list[str]) -> list[Any]:
    @tool(approval_mode="always_require")
    def delete_user(name: str) -> str:
        """Delete a user."""
        ran.append(name)
        return f"deleted {name}"

    @tool
    def list_users() -> list[str]:
        """Every user."""
        return ["alice", "bob"]

    return [delete_user, list_users]


async def approve_with_the_framework(agent: Agent, first: Any, session: Any) -> Any:
    (request,) = first.user_input_requests
    assert request.type == "function_approval_request"
    assert request.function_call.name == "execute_code"
    reply = Message(role="user", contents=[request.to_function_approval_response(True)])
    return await agent.run(reply, session=session)


def recording_middleware(seen: list[str]) -> Any:
    @function_middleware
    async def record(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        seen.append(f"framework:{context.function.name}")
        await call_next()

    return record
