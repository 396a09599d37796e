"""`execute_code` as a Pydantic AI toolset: the agent's tools, called from one sandboxed program.

>>> from codeact.integrations.pydantic_ai import CodeActToolset
>>> toolset = CodeActToolset(tools=[get_weather, convert], limits=Limits(wall_time=10))
>>> agent = Agent(model, toolsets=[toolset])  # doctest: +SKIP

The toolset offers the model one tool, ``execute_code``, and adds codeact's instructions to the
agent's. The tools (Pydantic AI `Tool`s, functions with or without a `RunContext`, whole
toolsets, or codeact `Tool`s) run on the host with the run's context (deps included); the
program runs in codeact's sandbox. Each nested call runs through its toolset's ``call_tool``
with arguments validated by Pydantic AI, in an ``execute_tool NAME`` span of the run's tracer.
A failing program is a `ToolFailed`: the model sees it and goes on, and it does not use up
retries.

Gated tools (``requires_approval=True`` or ``require_approval=[...]``): a program that calls
one is a deferred tool call that needs approval, as in Pydantic AI's human-in-the-loop. The run
ends with `DeferredToolRequests` (put it in the agent's ``output_type``) whose metadata shows
the code and its gated calls; run again with ``DeferredToolResults(approvals={id: True})`` to
run it, or False / `ToolDenied` to refuse.

A tool whose name is not a Python identifier (an MCP server's ``get-forecast``) is called
``get_forecast`` in the program, and its description says so; two tools that would get the
same name are refused with what to do (``toolset.prefixed(...)``, ``.filtered(...)``,
``.renamed(...)``). Needs ``pip install -e '.[pydantic-ai]'``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from typing import Any

from .._extras import needs_extra

with needs_extra("pydantic-ai", __name__):
    from pydantic_ai import ApprovalRequired, CallDeferred, ModelRetry, RunContext, ToolFailed
    from pydantic_ai.tools import Tool as PydanticAITool
    from pydantic_ai.toolsets import AbstractToolset, CombinedToolset, FunctionToolset, ToolsetTool

from .. import CallDenied, CodeAct, ConfigurationError, Tool
from ..runtime.tracing import name_text
from ..tools.callables import return_annotation
from ._adapter import (
    AdapterCore,
    NestedCallIds,
    approval_payload,
    codeact_from,
    gated_copy,
    python_name,
    result_text,
    sandbox_tool,
    tool_items,
    unique_names,
)

__all__ = ["CodeActToolset", "PydanticAIToolInput"]

_RENAME = (
    "rename one: Tool(..., name=...) for a function, toolset.renamed({...}), "
    "toolset.prefixed('x') or toolset.filtered(...) for a toolset such as an MCP server"
)

#: What `CodeActToolset(tools=...)` takes.
PydanticAIToolInput = PydanticAITool[Any] | AbstractToolset[Any] | Tool | Callable[..., Any]


@dataclass
class _Running:
    ctx: RunContext[Any]
    tools: dict[str, ToolsetTool[Any]]
    ids: NestedCallIds


_running: contextvars.ContextVar[_Running | None] = contextvars.ContextVar(
    "codeact_pydantic_ai_running", default=None
)


class CodeActToolset(AbstractToolset[Any]):
    """A toolset with one tool, ``execute_code``, whose programs call the given tools.

    Args:
        tools: Pydantic AI tools, functions (taking a `RunContext` first or not), toolsets
            (`FunctionToolset`, MCP servers...) or codeact `Tool`s.
        codeact: A ready `CodeAct` to run programs on (then pass no other options).
        require_approval: Names of tools whose calls a person must approve first.
        **options: `CodeAct`'s options: ``limits``, ``backend``, ``file_mounts``,
            ``allowed_domains``, ``approval_handler``, ``middleware``, ``audit``...
    """

    def __init__(
        self,
        tools: Iterable[PydanticAIToolInput] = (),
        *,
        codeact: CodeAct | None = None,
        require_approval: Collection[str] = (),
        name: str = "execute_code",
        id: str | None = None,
        **options: Any,
    ) -> None:
        own: list[Tool] = []
        functions: list[Any] = []
        toolsets: list[AbstractToolset[Any]] = []
        for item in tool_items(tools, framework="Pydantic AI"):
            if isinstance(item, Tool):
                own.append(gated_copy(item) if item.name in require_approval else item)
            elif isinstance(item, AbstractToolset):
                toolsets.append(item)
            elif isinstance(item, PydanticAITool) or callable(item):
                functions.append(item)
            else:
                raise ConfigurationError(
                    f"tools must be Pydantic AI tools or toolsets, functions or codeact Tools, "
                    f"got {item!r}"
                )
        self._inner: AbstractToolset[Any] = CombinedToolset([FunctionToolset(functions), *toolsets])
        self._core: AdapterCore = codeact_from(
            tools=own, codeact=codeact, options=options, framework="Pydantic AI"
        )
        self._require_approval = frozenset(require_approval)
        self._mirrored: dict[str, tuple[Any, ...]] = {}
        self._added: list[str] = []  # the sandbox names of the mirrored tools
        self._name = name
        self._id = id
        self._outer = FunctionToolset[Any](
            [PydanticAITool(self._execute_code, name=name, takes_ctx=True, prepare=self._describe)]
        )

    # -- what the agent sees ------------------------------------------------------------
    @property
    def id(self) -> str | None:
        return self._id

    @property
    def codeact(self) -> CodeAct:
        return self._core.codeact

    async def get_instructions(self, ctx: RunContext[Any]) -> str:
        await self._mirror(ctx)
        return self._core.codeact.build_instructions()

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        await self._mirror(ctx)
        return await self._outer.get_tools(ctx)

    async def _describe(self, ctx: RunContext[Any], tool_def: Any) -> Any:
        return replace(tool_def, description=self._core.codeact.tool_description())

    async def __aenter__(self) -> CodeActToolset:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        return await self._inner.__aexit__(*args)

    # -- running ------------------------------------------------------------------------
    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        return await self._outer.call_tool(name, tool_args, ctx, tool)

    async def _execute_code(self, ctx: RunContext[Any], code: str) -> str:
        """Run a Python program in a sandbox; it calls the tools as functions.

        Args:
            code: A complete Python program. Print what you need to see; the value of the
                last line is returned too.
        """
        tools = await self._mirror(ctx)
        token = _running.set(_Running(ctx, tools, NestedCallIds(ctx.tool_call_id)))
        try:
            counts = self._core.plan_to_approve(code)
            if counts is None:
                result = await self._core.execute(code, call_id=ctx.tool_call_id)
            elif not ctx.tool_call_approved:
                raise ApprovalRequired(metadata=approval_payload(code, counts))
            else:
                with self._core.approved_plan(counts, by="Pydantic AI deferred approval"):
                    result = await self._core.execute(code, call_id=ctx.tool_call_id)
        finally:
            _running.reset(token)
        if not result.ok:
            raise ToolFailed(result_text(result))
        return result_text(result)

    async def _mirror(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        """The inner toolsets' tools for this step, mirrored as the CodeAct's sandbox tools."""
        tools = await self._inner.get_tools(ctx)
        tools.pop(self._name, None)
        shape = {
            name: (t.tool_def.parameters_json_schema, t.tool_def.description, t.tool_def.kind)
            for name, t in tools.items()
        }
        if shape != self._mirrored:
            # Everything that can fail happens before the old tools are removed: a failure
            # leaves the CodeAct's tools as they were.
            unique_names(tools, framework="Pydantic AI", fix=_RENAME)
            made = [self._sandbox_tool(name, t) for name, t in tools.items()]
            codeact = self._core.codeact
            for tool in made:
                if tool.name not in self._added and codeact.tools.get(tool.name) is not None:
                    raise ConfigurationError(
                        f"the Pydantic AI tool {tool.name!r} has the name of another tool of "
                        f"this CodeAct; {_RENAME}"
                    )
            for old in self._added:
                codeact.remove_tool(old)
            codeact.add_tools(*made)
            self._added = [t.name for t in made]
            self._mirrored = shape
        return tools

    def _sandbox_tool(self, name: str, tool: ToolsetTool[Any]) -> Tool:
        async def call(**arguments: Any) -> Any:
            running = _running.get()
            if running is None or name not in running.tools:
                raise ConfigurationError(f"{name}() can only be called from execute_code")
            return await self._call_nested(running, name, arguments)

        return sandbox_tool(
            name,
            tool.tool_def.parameters_json_schema,
            call,
            description=tool.tool_def.description or "",
            gated=self._gated(name, tool),
            framework="Pydantic AI",
            returns=_returns(tool),
            returns_schema=getattr(tool.tool_def, "return_schema", None),
        )

    def _gated(self, name: str, tool: ToolsetTool[Any]) -> bool:
        """Gated by Pydantic AI, or named in require_approval (by its name or its Python name)."""
        named = name in self._require_approval or python_name(name) in self._require_approval
        return tool.tool_def.kind == "unapproved" or named

    async def _call_nested(self, running: _Running, name: str, arguments: dict[str, Any]) -> Any:
        tool = running.tools[name]
        ctx = replace(
            running.ctx,
            tool_name=name,
            tool_call_id=running.ids.next(),
            retry=0,
            max_retries=0,
            tool_call_approved=self._gated(name, tool),
        )
        with ctx.tracer.start_as_current_span(
            f"execute_tool {name}",
            attributes={
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": name_text(ctx.tool_call_id or ""),  # the model's id in it
                "codeact.parent_call_id": name_text(running.ids.parent),
            },
        ):
            validated = tool.args_validator.validate_python(arguments)
            try:
                return await self._inner.call_tool(name, validated, ctx, tool)
            except ModelRetry as exc:  # the tool asks for different arguments: tell the program
                raise ValueError(exc.message) from None
            except ToolFailed as exc:
                raise RuntimeError(exc.message) from None
            except (ApprovalRequired, CallDeferred):
                raise CallDenied(
                    f"{name}() asks for a person or an external answer, which a running "
                    "program cannot wait for; name it in require_approval so the person "
                    "approves the program before it runs",
                    by="Pydantic AI",
                ) from None

    def __repr__(self) -> str:
        return f"CodeActToolset({self._core.codeact!r})"


def _returns(tool: ToolsetTool[Any]) -> Any:
    """The return annotation of a function tool's function (its `FunctionSchema` keeps it;
    a combined toolset's tool wraps the source toolset's)."""
    for _ in range(16):  # toolsets combined within toolsets
        source = getattr(tool, "source_tool", None)
        if not isinstance(source, ToolsetTool):
            break
        tool = source
    schema = getattr(getattr(tool, "call_func", None), "__self__", None)
    return return_annotation(getattr(schema, "function", None))
