"""`execute_code` as an OpenAI Agents SDK function tool.

>>> from codeact.integrations.openai_agents import codeact_tool
>>> execute_code = codeact_tool(tools=[get_weather, convert], limits=Limits(wall_time=10))
>>> agent = Agent(name="a", instructions=execute_code.instructions, tools=[execute_code])
... # doctest: +SKIP

The tools (the SDK's `FunctionTool`s, ``@function_tool`` functions, plain functions or codeact
`Tool`s) run on the host, each nested call as the SDK runs a function tool: with a
`ToolContext` carrying the run's context, inside a ``function`` span under the
``execute_code`` span of the trace. The program runs in codeact's sandbox. A failing program
comes back to the model as the tool's output (the SDK's way for a failed tool), and the span
is marked as an error.

A tool's own ``tool_input_guardrails`` and ``tool_output_guardrails`` run for each nested
call as the SDK runs them for a direct one: an input guardrail that rejects refuses the call
(the program gets a catchable ``ToolDenied`` with its message; the tool does not run), an
output guardrail that rejects replaces the result by a ``ToolError`` with its message. A
guardrail that raises (a tripwire) refuses the call too, and once the program has ended the
run halts with the SDK's ``ToolInputGuardrailTripwireTriggered`` (or ``...Output...``), even
if the program caught the error.

A tool's other settings hold too. ``is_enabled=False`` leaves it out (not shown; a program's
call finds no such tool); a callable ``is_enabled`` is asked with the run's context at each
call (a no: a ``ToolError``, nothing runs). Arguments with defaults may be left out: calls are
checked against the function's non-strict schema, which the model is shown (the SDK's strict
one requires every argument). ``timeout=`` bounds each call as codeact's
``@tool(timeout=...)``. The model is shown what the tool returns where the SDK knows it.
Hosted tools (``WebSearchTool``...) cannot be called from a program: give them to the Agent.

Gated tools (``needs_approval`` on a `FunctionTool`, or ``require_approval=[...]``): a program
that calls one needs approval, through the SDK's own ``needs_approval``: the run stops with
``result.interruptions``; ``state.approve(item)`` or ``state.reject(item)`` and run again.
Needs ``pip install -e '.[openai-agents]'``.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from .._extras import needs_extra

with needs_extra("openai-agents", __name__):
    from agents import Agent, FunctionTool, RunContextWrapper
    from agents.exceptions import (
        ToolInputGuardrailTripwireTriggered,
        ToolOutputGuardrailTripwireTriggered,
    )
    from agents.tool import set_function_tool_failure_error_function
    from agents.tool_context import ToolContext
    from agents.tool_guardrails import ToolInputGuardrailData, ToolOutputGuardrailData
    from agents.tracing import SpanError, function_span, get_current_span

from .. import CallDenied, CodeAct, ConfigurationError, Tool
from .._nesting import loads_within
from . import _openai_agents_schemas as schemas
from ._adapter import (
    AdapterCore,
    NestedCallIds,
    codeact_from,
    named_in,
    plain_tool,
    python_name,
    result_text,
    sandbox_tool,
    tool_items,
    unique_names,
)
from ._framework_approvals import approval_payload

__all__ = ["CodeActFunctionTool", "OpenAIAgentsToolInput", "codeact_tool"]

#: What `codeact_tool(tools=...)` takes.
OpenAIAgentsToolInput = FunctionTool | Tool | Callable[..., Any]


@dataclass
class _Running:
    ctx: ToolContext[Any]
    ids: NestedCallIds
    # The first guardrail tripwire of the program's calls: the run halts with it.
    tripped: ToolInputGuardrailTripwireTriggered | ToolOutputGuardrailTripwireTriggered | None = (
        None
    )


_running: contextvars.ContextVar[_Running | None] = contextvars.ContextVar(
    "codeact_openai_agents_running", default=None
)


@dataclass
class CodeActFunctionTool(FunctionTool):
    """The ``execute_code`` `FunctionTool`, with the `CodeAct` behind it and its instructions."""

    core: AdapterCore | None = field(default=None, kw_only=True, repr=False)

    @property
    def codeact(self) -> CodeAct:
        assert self.core is not None
        return self.core.codeact

    @property
    def instructions(self) -> str:
        """The agent's instructions fragment (``CodeAct.build_instructions()``)."""
        return self.codeact.build_instructions()

    def approval_question(self, item: Any) -> dict[str, Any] | None:
        """What a person should see for an interruption of this tool (an item of
        ``result.interruptions``): ``{"code", "gated_calls", "repeated", "question"}``, as the
        other adapters' questions; None for an item that is not a program of this tool. (The
        SDK's item carries only the raw call.)"""
        assert self.core is not None
        raw = getattr(item, "raw_item", item)
        read = raw.get if isinstance(raw, dict) else functools.partial(getattr, raw)
        arguments = read("arguments", None)
        if getattr(item, "tool_name", getattr(raw, "name", self.name)) != self.name:
            return None
        try:
            code = loads_within(arguments)["code"] if isinstance(arguments, str) else None
        except (ValueError, KeyError, TypeError):
            code = None
        if not isinstance(code, str):
            return None
        counts = self.core.plan_to_approve(code)
        return None if counts is None else approval_payload(code, counts)


def codeact_tool(
    *,
    tools: Iterable[OpenAIAgentsToolInput] = (),
    codeact: CodeAct | None = None,
    require_approval: Collection[str] = (),
    name: str = "execute_code",
    **options: Any,
) -> CodeActFunctionTool:
    """The ``execute_code`` function tool, whose programs call `tools` on the host.

    Args:
        tools: The SDK's function tools, plain functions or codeact `Tool`s.
        codeact: A ready `CodeAct` to run programs on (then pass no other options).
        require_approval: Names of tools whose calls a person must approve first.
        **options: `CodeAct`'s options: ``limits``, ``backend``, ``file_mounts``,
            ``allowed_domains``, ``approval_handler``, ``middleware``, ``audit``...
    """
    items = tool_items(tools, framework="OpenAI Agents")
    unique_names(
        (t.name for t in items if isinstance(t, FunctionTool)),
        framework="OpenAI Agents",
        fix="rename one with function_tool(..., name_override=...)",
    )
    # A tool switched off for good (is_enabled=False) is not there at all, as for the SDK;
    # one whose is_enabled is a callable is asked at each call, with the run's context.
    converted = [
        _sandbox_tool(t, require_approval)
        for t in items
        if not (isinstance(t, FunctionTool) and t.is_enabled is False)
    ]
    core = codeact_from(
        tools=converted, codeact=codeact, options=options, framework="OpenAI Agents"
    )

    async def needs_approval(
        context: RunContextWrapper[Any], params: dict[str, Any], call_id: str
    ) -> bool:
        code = params.get("code")
        return isinstance(code, str) and core.plan_to_approve(code) is not None

    async def invoke(ctx: ToolContext[Any], arguments: str) -> str:
        try:
            code = loads_within(arguments)["code"]
            if not isinstance(code, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return "[error] execute_code takes one argument, code: the program as a string"
        running = _Running(ctx, NestedCallIds(ctx.tool_call_id))
        token = _running.set(running)
        try:
            counts = core.plan_to_approve(code)
            if counts is None:
                result = await core.execute(code, call_id=ctx.tool_call_id)
            else:  # the SDK calls the tool only once a person approved it (needs_approval)
                with core.approved_plan(counts, by="OpenAI Agents approval"):
                    result = await core.execute(code, call_id=ctx.tool_call_id)
        finally:
            _running.reset(token)
        if running.tripped is not None:  # as the SDK halts the run for a direct call
            raise running.tripped
        text = result_text(result)
        if not result.ok:
            span = get_current_span()
            if span is not None:
                span.set_error(SpanError(message="the program failed", data={"error": text}))
        return text

    return CodeActFunctionTool(
        name=name,
        description=core.codeact.tool_description(),
        params_json_schema=dict(core.codeact.execute_code_tool().parameters),
        on_invoke_tool=invoke,
        strict_json_schema=True,
        needs_approval=needs_approval,
        core=core,
    )


def _sandbox_tool(item: OpenAIAgentsToolInput, require_approval: Collection[str]) -> Tool:
    if not isinstance(item, FunctionTool):
        if not isinstance(item, Tool) and type(item).__module__.partition(".")[0] == "agents":
            raise ConfigurationError(_not_a_function_tool(item))
        return plain_tool(item, require_approval, framework="OpenAI Agents")
    # A copy that raises instead of answering with an error text: the program then gets a
    # ToolError it can catch, not a string that looks like a result.
    strict = dataclasses.replace(item)
    set_function_tool_failure_error_function(strict, None)
    name = item.name

    async def call(**arguments: Any) -> Any:
        running = _running.get()
        if running is None:
            raise ConfigurationError(f"{name}() can only be called from execute_code")
        parent = running.ctx
        if not await _enabled(item, parent):
            raise ToolNotEnabled(
                f"there is no tool named {python_name(name)!r} in this run (it is not "
                "enabled for it); nothing was run"
            )
        payload = json.dumps(arguments, ensure_ascii=False)
        nested = ToolContext(
            context=parent.context,
            usage=parent.usage,
            tool_name=name,
            tool_call_id=running.ids.next(),
            tool_arguments=payload,
            agent=parent.agent,
            run_config=parent.run_config,
        )
        with function_span(name, input=payload) as span:
            await _check_input(item, nested, running)
            output = await strict.on_invoke_tool(nested, payload)
            output = await _check_output(item, nested, running, output)
            span.span_data.output = output if isinstance(output, str) else repr(output)
        return output

    return sandbox_tool(
        name,
        schemas.parameters(item),
        call,
        description=item.description,
        gated=item.needs_approval is not False or named_in(name, require_approval),
        returns_schema=schemas.returns(item),
        timeout=item.timeout_seconds,
        framework="OpenAI Agents",
    )


async def _enabled(tool: FunctionTool, ctx: ToolContext[Any]) -> bool:
    """Whether `tool` is enabled for this run, asked as the SDK asks before it offers a tool."""
    enabled = tool.is_enabled
    if isinstance(enabled, bool):
        return enabled
    answer = enabled(ctx, _agent(ctx))
    if inspect.isawaitable(answer):
        answer = await answer
    return bool(answer)


def _not_a_function_tool(item: object) -> str:
    kind = type(item).__name__
    return (
        f"{kind} is not a function tool, so a program cannot call it: the SDK's hosted tools "
        "(WebSearchTool, FileSearchTool, CodeInterpreterTool, HostedMCPTool, "
        "ImageGenerationTool...) run at the model provider, and its other built-in tools "
        "(ComputerTool, ShellTool, LocalShellTool, ApplyPatchTool, CustomTool...) are run by "
        "the SDK for the model. Give it to the Agent directly, next to execute_code: "
        f"Agent(tools=[execute_code, {kind}(...)]); codeact_tool(tools=...) takes function "
        "tools (@function_tool), plain functions and codeact Tools"
    )


async def _check_input(tool: FunctionTool, ctx: ToolContext[Any], running: _Running) -> None:
    """The tool's input guardrails, as the SDK runs them before a direct call."""
    for guardrail in tool.tool_input_guardrails or ():
        verdict = await guardrail.run(ToolInputGuardrailData(context=ctx, agent=_agent(ctx)))
        behavior = verdict.behavior
        if behavior["type"] == "raise_exception":
            running.tripped = running.tripped or ToolInputGuardrailTripwireTriggered(
                guardrail=guardrail, output=verdict
            )
            raise CallDenied(
                f"the input guardrail {guardrail.get_name()} of {tool.name}() tripped; the run "
                "halts when the program ends",
                by=guardrail.get_name(),
            )
        if behavior["type"] == "reject_content":
            raise CallDenied(behavior["message"], by=guardrail.get_name())


async def _check_output(
    tool: FunctionTool, ctx: ToolContext[Any], running: _Running, output: Any
) -> Any:
    """The tool's output guardrails, as the SDK runs them after a direct call."""
    for guardrail in tool.tool_output_guardrails or ():
        data = ToolOutputGuardrailData(context=ctx, agent=_agent(ctx), output=output)
        verdict = await guardrail.run(data)
        behavior = verdict.behavior
        if behavior["type"] == "raise_exception":
            running.tripped = running.tripped or ToolOutputGuardrailTripwireTriggered(
                guardrail=guardrail, output=verdict
            )
            raise GuardrailRejected(
                f"the output guardrail {guardrail.get_name()} of {tool.name}() tripped; the "
                "run halts when the program ends"
            )
        if behavior["type"] == "reject_content":
            raise GuardrailRejected(behavior["message"])
    return output


def _agent(ctx: ToolContext[Any]) -> Agent[Any]:
    # The agent that runs execute_code: the SDK gives a guardrail the agent of the call.
    return cast("Agent[Any]", ctx.agent)


class ToolNotEnabled(LookupError):
    """A program called a tool whose ``is_enabled`` says no for this run (nothing ran)."""


class GuardrailRejected(Exception):
    """An output guardrail rejected a nested call's result (the program gets a ToolError)."""
