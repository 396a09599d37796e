"""Nested tool calls from sandboxed code, run through Agent Framework's own function invocation.

When the program inside `execute_code` calls ``fetch_data(...)``, the call is made the way the
framework makes any tool call: a `FunctionInvocationContext` goes through the run's function
middleware pipeline (the agent's, the run's, the chat client's and the context providers'
middleware, in the framework's order) and ends in `FunctionTool.invoke`, so logging, policy,
argument-checking and approval middleware see every nested call, not just the outer
`execute_code` call. (Microsoft's Hyperlight provider calls tools directly and skips them.)

The framework hands a tool its invocation context but not the pipeline that runs it, so
`find_function_pipeline` looks for the pipeline on the call stack of the `execute_code` call.
When the framework ran `execute_code` through middleware but the pipeline cannot be found (a
future framework release changed how it calls tools), nested calls are refused rather than run
around the middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import sys
import typing
from collections.abc import Callable
from typing import Any

from agent_framework import (
    Content,
    FunctionInvocationContext,
    FunctionTool,
    MiddlewareFailure,
    MiddlewareTermination,
    UserInputRequiredException,
)
from agent_framework._middleware import FunctionMiddlewarePipeline

from ..._nesting import loads_within
from ...calls.call import CallDenied
from ...errors import IntegrationError
from ...tools import Tool
from ...tools.callables import NO_RETURN, return_annotation
from .._adapter import python_name

__all__ = ["NESTED_CALL_KEY", "NestedCalls", "find_function_pipeline", "sandbox_tool_for"]

#: Key in `FunctionInvocationContext.metadata` of a nested call: ``{"parent_call_id": ...,
#: "index": n}``, so middleware can tell calls made from code from the model's own calls.
NESTED_CALL_KEY = "codeact.nested_call"


class NestedCallError(Exception):
    """A nested call that middleware stopped; the program sees a ToolError with this text."""


def find_function_pipeline(context: FunctionInvocationContext) -> FunctionMiddlewarePipeline | None:
    """The function middleware pipeline that is running `context` right now, if any."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "execute":
            owner = frame.f_locals.get("self")
            if isinstance(owner, FunctionMiddlewarePipeline) and (
                frame.f_locals.get("context") is context
            ):
                return owner
        frame = frame.f_back  # type: ignore[assignment]
    return None


def ran_through_middleware(context: FunctionInvocationContext) -> bool:
    """Whether the framework's loop invoked this call through its middleware pipeline (it sets
    ``call_id`` in the metadata only on that path)."""
    return "call_id" in context.metadata


class NestedCalls:
    """The nested calls of one `execute_code` invocation.

    `abort` holds a `MiddlewareFailure` raised by middleware of a nested call: the program is
    stopped and `execute_code` re-raises it, so the run fails closed as the framework intends.
    `termination` holds a `MiddlewareTermination`: the program finishes, then the framework's
    loop is terminated after this `execute_code` call.
    """

    def __init__(
        self,
        parent: FunctionInvocationContext,
        pipeline: FunctionMiddlewarePipeline | None,
        on_abort: Callable[[], None],
    ) -> None:
        self.parent = parent
        self.pipeline = pipeline
        self.on_abort = on_abort
        self.abort: MiddlewareFailure | None = None
        self.termination: MiddlewareTermination | None = None
        self._counter = itertools.count(1)
        self._parent_call_id = str(parent.metadata.get("call_id") or "execute_code")

    async def call(self, tool: FunctionTool, arguments: dict[str, Any]) -> Any:
        if self.abort is not None:
            raise NestedCallError(f"stopped: {self.abort}")
        index = next(self._counter)
        context = FunctionInvocationContext(
            function=tool,
            arguments=arguments,
            session=self.parent.session,
            kwargs=dict(self.parent.kwargs),
            tools=self.parent.tools,
            parent_service_session_state_keys=self.parent.parent_service_session_state_keys,
        )
        context.metadata["call_id"] = f"{self._parent_call_id}/{index}"
        context.metadata[NESTED_CALL_KEY] = {"parent_call_id": self._parent_call_id, "index": index}

        async def invoke(ctx: FunctionInvocationContext) -> Any:
            return await tool.invoke(arguments=ctx.arguments, context=ctx, skip_parsing=True)

        try:
            if self.pipeline is None:
                result = await invoke(context)
            else:
                result = await self.pipeline.execute(context, invoke)
        except MiddlewareFailure as exc:
            self.abort = exc
            self.on_abort()
            raise NestedCallError(f"stopped: {exc}") from None
        except MiddlewareTermination as exc:
            substitute = exc.result if exc.result is not None else context.result
            if _is_approval_request(substitute):
                raise _approval_denied(tool) from None  # the loop stopped only to ask: see below
            self.termination = exc
            if substitute is None:
                raise NestedCallError(f"stopped by middleware: {exc}") from None
            return plain_value(substitute)
        except UserInputRequiredException:
            raise NestedCallError(
                f"{tool.name}() asks the user for input, which a program cannot do; "
                "call it directly instead of from execute_code"
            ) from None
        if _is_approval_request(result) or _is_approval_request(context.result):
            raise _approval_denied(tool)
        return plain_value(result)


def sandbox_tool_for(tool: FunctionTool, calls: NestedCalls | None, *, gated: bool = True) -> Tool:
    """The framework tool as a sandbox tool; its calls go through `calls` (None: describe only).

    `gated`: whether the tool keeps its ``approval_mode`` inside the sandbox (where codeact's
    approval gate then asks about each call); False when the whole block was approved instead.
    """

    from_mcp = _is_mcp_function(tool)

    async def call(**arguments: Any) -> Any:
        if calls is None:
            raise IntegrationError("this tool is only a description")
        result = await calls.call(tool, arguments)
        return mcp_value(result) if from_mcp else result

    called = python_name(tool.name)
    description = str(tool.description or "")
    if called != tool.name:  # the sandbox calls every tool as a function of its name
        description = f"{description.rstrip()} (the tool {tool.name!r}: call it as {called})"
    return Tool.from_schema(
        called,
        _declared_order(tool),
        call,
        description=description.strip(),
        return_annotation=NO_RETURN if from_mcp else _returns(tool),
        approval_mode=tool.approval_mode if gated else "never_require",
    )


def _declared_order(tool: FunctionTool) -> dict[str, Any]:
    """The tool's parameters schema with its arguments in the order the function (or the MCP
    server) declares them: the framework sorts them by name (for prompt caching), and the
    sandbox's function takes them positionally in the order the schema gives."""
    schema = dict(tool.parameters())
    props = schema.get("properties")
    if not isinstance(props, dict):
        return schema
    raw = getattr(tool, "_input_schema", None)  # the schema before the framework sorted it
    order: list[str] = list(raw.get("properties") or ()) if isinstance(raw, dict) else []
    if not order:
        with contextlib.suppress(TypeError, ValueError):
            order = list(inspect.signature(_function(tool) or (lambda: None)).parameters)
    ranked = {name: i for i, name in enumerate(order)}
    schema["properties"] = dict(
        sorted(props.items(), key=lambda item: ranked.get(item[0], len(ranked)))
    )
    return schema


def _is_mcp_function(tool: FunctionTool) -> bool:
    """Whether the framework made this tool for a tool of an MCP server (`MCPStdioTool`...)."""
    return bool((tool.additional_properties or {}).get("_mcp_is_tool"))


def mcp_value(result: Any) -> Any:
    """An MCP tool's result as a value, as codeact's own `mcp_tools` gives it: the framework
    hands it on as JSON text (its structured content, or a dict or list the server sent as
    text), and a Python server wraps a value that is not an object as ``{"result": value}``
    (the framework drops the output schema that marks it, so a single "result" key is read
    as that wrap)."""
    if not isinstance(result, str) or not result.lstrip().startswith(("{", "[")):
        return result
    try:
        value = loads_within(result)
    except ValueError:  # not JSON, or nested too deep: the text
        return result
    if isinstance(value, dict) and set(value) == {"result"}:
        return value["result"]
    return value


def _approval_denied(tool: FunctionTool) -> CallDenied:
    """Function middleware (a security policy, say) wants a person to approve this call first.
    The framework can only ask between model turns, and only it can bind the answer to its
    request, so the call is denied: never run, and never handed to the program as a result."""
    return CallDenied(
        f"function middleware asked for approval of {tool.name}(), which Agent Framework can "
        "only ask for between model turns, not inside a running program",
        by="agent_framework middleware",
    )


def _is_approval_request(value: Any) -> bool:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return isinstance(value, Content) and value.type == "function_approval_request"


def plain_value(result: Any) -> Any:
    """What middleware left as the result, as a value the program can receive."""
    if isinstance(result, Content):
        result = [result]
    if isinstance(result, list) and result and all(isinstance(c, Content) for c in result):
        texts = [c.text for c in result if c.type == "text" and c.text is not None]
        if len(texts) == len(result):
            return "\n".join(texts)
        return [c.to_dict() for c in result]
    return result


def _function(tool: FunctionTool) -> Any:
    return tool.func.func if isinstance(tool.func, FunctionTool) else tool.func


def _returns(tool: FunctionTool) -> Any:
    """The return annotation of the tool's function (an ``Awaitable[X]`` shows as X)."""
    annotation = return_annotation(_function(tool))
    if typing.get_origin(annotation) in (typing.Awaitable, asyncio.Future):
        annotation = typing.get_args(annotation)[0]
    return annotation
