"""Every call of a *direct* tool (traditional wiring) goes through `DirectTools.invoke`.

One place does it all, in this order: find the tool, validate the arguments against its
schema (`Tool.validate_json`), ask the approval handler when the tool is
``approval_mode="always_require"``, run it (sync tools in a worker thread, async ones on the
loop, each under its timeout), convert the result to JSON (`Tool.to_json`) and record the call
(`ToolCallRecord`). Whatever goes wrong becomes the text the model reads as the tool's result
(``Error: ...``), so the model can correct itself; only a failing approval handler, which is
the host's own bug, propagates.

Keeping it in one function is deliberate: a shared middleware pipeline for direct and nested
calls can replace the body of `invoke` without touching the agent loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..bridge.protocol import CallOutcome, ToolCallRecord
from ..chat.messages import ToolCall, ToolDefinition
from ..errors import ConfigurationError
from ..tools import ResultConversionError, ToolArgumentsError, ToolSet

__all__ = ["ApprovalHandler", "ApprovalRequest", "DirectCallResult", "DirectTools"]


@dataclass(frozen=True)
class ApprovalRequest:
    """A direct tool call waiting for a person's (or a policy's) decision."""

    tool: str
    arguments: dict[str, Any]
    call_id: str


#: Decides an `ApprovalRequest`: True runs the call, False denies it. May be sync or async.
ApprovalHandler: TypeAlias = Callable[[ApprovalRequest], "Awaitable[bool] | bool"]


@dataclass(frozen=True)
class DirectCallResult:
    """What the model reads back for one call, and the record of the call."""

    content: str
    record: ToolCallRecord


class DirectTools:
    """The direct tools of an agent, and the one way they are called."""

    def __init__(self, tools: ToolSet, *, approval_handler: ApprovalHandler | None) -> None:
        gated = [t.name for t in tools if t.approval_mode == "always_require"]
        if gated and approval_handler is None:
            raise ConfigurationError(
                f"tool(s) {', '.join(gated)} need approval (approval_mode='always_require'); "
                "pass Agent(approval_handler=...) to decide their calls"
            )
        self.tools = tools
        self.approval_handler = approval_handler

    def definitions(self) -> list[ToolDefinition]:
        return [ToolDefinition(t.name, t.description, t.parameters) for t in self.tools]

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    async def invoke(self, call: ToolCall, *, clock_start: float) -> DirectCallResult:
        """Run one call the model asked for; never raises for the tool's or model's mistakes."""
        started = time.perf_counter()
        arguments: Any = _loose_json(call.arguments)

        def done(outcome: CallOutcome, content: str, error: str | None = None) -> DirectCallResult:
            record = ToolCallRecord(
                name=call.name,
                arguments=arguments,
                started_ms=(started - clock_start) * 1000,
                duration_ms=(time.perf_counter() - started) * 1000,
                outcome=outcome,
                error=error,
            )
            return DirectCallResult(content, record)

        tool = self.tools.get(call.name)
        if tool is None:
            message = (
                f"there is no tool named {call.name!r}; the tools are: "
                f"{self.tools.describe_names()}"
            )
            return done("unknown", f"Error: {message}", message)
        try:
            kwargs = tool.validate_json(call.arguments or "{}")
        except ToolArgumentsError as exc:
            return done("invalid", f"Error: {exc}", str(exc))
        if tool.approval_mode == "always_require":
            assert self.approval_handler is not None  # checked in __init__
            shown = arguments if isinstance(arguments, dict) else dict(kwargs)
            request = ApprovalRequest(tool.name, shown, call.id)
            decision = self.approval_handler(request)
            if inspect.isawaitable(decision):
                decision = await decision
            if decision is not True:
                message = f"the call of {tool.name} was denied by the approval handler"
                return done("denied", f"Error: {message}; it did not run.", message)
        try:
            if tool.is_async:
                running = tool.fn(**kwargs)
            else:
                running = asyncio.to_thread(functools.partial(tool.fn, **kwargs))
            value = await asyncio.wait_for(running, timeout=tool.timeout)
        except asyncio.TimeoutError:
            message = f"{tool.name} did not finish within {tool.timeout:g} s"
            return done("timeout", f"Error: {message}", message)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            return done("error", f"Error: {message}", message)
        try:
            converted = tool.to_json(value)
        except ResultConversionError as exc:
            return done("error", f"Error: {exc}", str(exc))
        content = converted if isinstance(converted, str) else json.dumps(converted)
        return done("ok", content)


def _loose_json(text: str) -> Any:
    """Arguments for the record: decoded when they are JSON, else the text as sent."""
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text
