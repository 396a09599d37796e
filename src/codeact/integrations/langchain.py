"""`execute_code` as a LangChain tool, for LangChain agents and LangGraph graphs.

>>> from langchain.agents import create_agent
>>> from codeact.integrations.langchain import CodeActTool
>>> execute_code = CodeActTool(tools=[get_weather, convert], limits=Limits(wall_time=10))
>>> agent = create_agent(model, [execute_code], system_prompt=execute_code.instructions)
... # doctest: +SKIP

LangGraph's older ``create_react_agent(model, [execute_code], prompt=...)`` (deprecated since
LangGraph 1.0 for ``create_agent``) takes the tool the same way.

The tools (LangChain `BaseTool`s, ``@tool`` functions, plain functions or codeact `Tool`s) run
on the host; the program runs in codeact's sandbox. Every nested call is a LangChain tool run
under the ``execute_code`` run, so callbacks and LangSmith tracing see it. A failing program
comes back as a ``ToolMessage`` with ``status="error"``; the agent goes on.

Gated tools (``require_approval=[...]`` or codeact ``@tool(approval_mode="always_require")``):
inside a LangGraph graph, a program that calls one pauses the graph with ``interrupt()``
before it runs, showing the code and the gated calls; resume with ``Command(resume=True)``,
``Command(resume=False)`` or ``Command(resume={"approved": False, "reason": "..."})`` (or
a decision as create_agent's ``HumanInTheLoopMiddleware`` takes: ``{"type": "approve"}``,
``{"type": "reject", "message": "..."}``, or one of them in ``{"decisions": [...]}``). The
graph needs a checkpointer, as every interrupt does (``create_agent(...,
checkpointer=InMemorySaver())`` and a ``thread_id``); sync and async graphs both work.
Outside a graph, or with ``approval_handler=``, codeact's approval handler decides each call.
``require_approval`` holds for tools added later with `CodeActTool.add_tools` too.

A nested call raises in the program (a catchable ``ToolError``) when the tool fails, even for a
tool made with ``handle_tool_error`` or ``handle_validation_error``: the program gets an
error, not the error's text as a value. A tool with an ``InjectedToolCallId`` argument gets a
nested call id (``<execute_code run id>/1``...), and the program gets the content of its
``ToolMessage``. The arguments LangChain and LangGraph fill themselves (``InjectedToolArg``,
``InjectedState``, ``InjectedStore``, ``InjectedToolCallId``, a tool runtime) are hidden from
the model, and a program that passes one gets a ``ToolError`` (the call is invalid): only the
app or the graph sets them. Inside a LangGraph graph, a tool that takes the graph's state, its
store or a ``ToolRuntime`` gets them from the runtime LangGraph gives ``execute_code``;
outside a graph, its call is a ``ToolError`` saying it needs a graph.
Needs ``pip install -e '.[langchain]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, Field, PrivateAttr

from .._extras import needs_extra

with needs_extra("langchain", __name__):
    from langchain_core.callbacks import (
        AsyncCallbackManagerForToolRun,
        CallbackManagerForToolRun,
    )
    from langchain_core.messages import ToolMessage
    from langchain_core.messages.tool import ToolOutputMixin
    from langchain_core.tools import BaseTool, InjectedToolArg, InjectedToolCallId, ToolException
    from langchain_core.tools.base import get_all_basemodel_annotations

from .. import CodeAct, ConfigurationError, ExecutionResult, Tool, UserError
from ..tools.callables import NO_RETURN, return_annotation
from ..tools.schema_names import ArgumentNames
from ._adapter import (
    AdapterCore,
    NestedCallIds,
    approval_payload,
    codeact_from,
    named_in,
    plain_tool,
    result_text,
    sandbox_tool,
    tool_items,
    unique_names,
)
from ._langgraph_args import GraphArgs, outer_runtime

__all__ = ["CodeActTool", "LangChainToolInput"]

#: What `CodeActTool(tools=...)` takes.
LangChainToolInput = BaseTool | Tool | Callable[..., Any]

# The ids of the nested calls of the program that runs now (for InjectedToolCallId).
_ids: contextvars.ContextVar[NestedCallIds | None] = contextvars.ContextVar(
    "codeact_langchain_nested_ids", default=None
)


class _CodeInput(BaseModel):
    code: str = Field(
        description="A complete Python program. Print what you need to see; "
        "the value of the last line is returned too."
    )
    # Hidden from the model; LangGraph's tool node fills an argument named `runtime` with the
    # call's ToolRuntime (state, store, config), which the nested calls' tools may need.
    runtime: Annotated[Any, InjectedToolArg] = None


class CodeActTool(BaseTool):
    """The ``execute_code`` tool: runs the model's program in codeact's sandbox.

    Args:
        tools: LangChain tools, ``@tool`` functions, plain functions or codeact `Tool`s the
            program may call (as ``name(...)`` or ``call_tool("name", ...)``).
        codeact: A ready `CodeAct` to run programs on (then pass no other options).
        require_approval: Names of tools whose calls a person must approve first.
        **options: `CodeAct`'s options: ``limits``, ``backend``, ``file_mounts``,
            ``allowed_domains``, ``approval_handler``, ``middleware``, ``audit``...
    """

    name: str = "execute_code"
    description: str = ""
    args_schema: type[BaseModel] = _CodeInput
    handle_tool_error: bool = True
    _core: AdapterCore = PrivateAttr()
    _require_approval: frozenset[str] = PrivateAttr()

    def __init__(
        self,
        *,
        tools: Iterable[LangChainToolInput] = (),
        codeact: CodeAct | None = None,
        require_approval: Collection[str] = (),
        name: str = "execute_code",
        **options: Any,
    ) -> None:
        items = tool_items(tools, framework="LangChain")
        _check_names(items)
        converted = [_sandbox_tool(t, require_approval) for t in items]
        core = codeact_from(
            tools=converted, codeact=codeact, options=options, framework="LangChain"
        )
        super().__init__(name=name, description=core.codeact.tool_description())
        self._core = core
        self._require_approval = frozenset(require_approval)

    @property
    def codeact(self) -> CodeAct:
        return self._core.codeact

    @property
    def instructions(self) -> str:
        """The system prompt fragment for the agent (``CodeAct.build_instructions()``)."""
        return self._core.codeact.build_instructions()

    def add_tools(self, *tools: LangChainToolInput) -> None:
        """Add tools the program may call (the description is updated); those named in
        ``require_approval`` are gated, as at construction."""
        _check_names(tools)
        self._core.codeact.add_tools(*(_sandbox_tool(t, self._require_approval) for t in tools))
        self.description = self._core.codeact.tool_description()

    def _run(
        self,
        code: str,
        runtime: Any = None,
        run_manager: CallbackManagerForToolRun | None = None,
        **_: Any,
    ) -> str:
        _refuse_inside_loop()
        counts = self._decide(code)
        with _nested_ids(run_manager), outer_runtime(runtime):
            if counts is None:
                return _reported(self._core.execute_sync(code))
            with self._core.approved_plan(counts, by="LangGraph interrupt"):
                return _reported(self._core.execute_sync(code))

    async def _arun(
        self,
        code: str,
        runtime: Any = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **_: Any,
    ) -> str:
        counts = self._decide(code)
        with _nested_ids(run_manager), outer_runtime(runtime):
            if counts is None:
                return _reported(await self._core.execute(code))
            with self._core.approved_plan(counts, by="LangGraph interrupt"):
                return _reported(await self._core.execute(code))

    def _decide(self, code: str) -> dict[str, int] | None:
        """The gated calls a person approved through a LangGraph interrupt, or None when no one
        was asked (nothing gated; or outside a graph, where codeact's handler decides each
        call). Raises ToolException, an error ToolMessage, when the person said no."""
        counts = self._core.plan_to_approve(code)
        if counts is None:
            return None
        answer = _ask_graph(code, counts)
        if answer is None:
            return None
        approved, reason = answer
        if not approved:
            raise ToolException(
                "[denied] the program was not run: a person did not approve it"
                + (f" ({reason})" if reason else "")
            )
        return counts


@contextlib.contextmanager
def _nested_ids(run_manager: Any) -> Iterator[None]:
    run_id = getattr(run_manager, "run_id", None)
    token = _ids.set(NestedCallIds(f"execute_code:{run_id}" if run_id else None))
    try:
        yield
    finally:
        _ids.reset(token)


def _refuse_inside_loop() -> None:
    """A sync run (``invoke``, ``run``, a sync graph) on a thread that runs an event loop would
    block that loop: refuse it with the call a LangChain user makes there instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise UserError(
        "CodeActTool.invoke() was called inside a running event loop, where it would block the "
        "loop; use `await tool.ainvoke(...)` there (in a LangGraph graph, "
        "`await graph.ainvoke(...)`)"
    )


def _reported(result: ExecutionResult) -> str:
    """The text for the model; a failed program becomes a ToolMessage with status="error"."""
    if not result.ok:
        raise ToolException(result_text(result))
    return result_text(result)


def _in_graph() -> bool:
    try:
        from langgraph.config import get_config

        return "__pregel_scratchpad" in get_config().get("configurable", {})
    except (ImportError, RuntimeError):
        return False


def _ask_graph(code: str, counts: Mapping[str, int]) -> tuple[bool, str | None] | None:
    """Interrupt the graph to ask a person (raises GraphInterrupt the first time; returns the
    answer when the graph is resumed); None outside a LangGraph graph."""
    if not _in_graph():
        return None
    from langgraph.types import interrupt

    answer = interrupt(approval_payload(code, counts))
    if isinstance(answer, bool):
        return answer, None
    if isinstance(answer, Mapping) and isinstance(answer.get("approved"), bool):
        reason = answer.get("reason")
        return answer["approved"], str(reason) if reason is not None else None
    if isinstance(answer, str) and answer.lower() in ("approve", "approved", "yes", "deny", "no"):
        return answer.lower() in ("approve", "approved", "yes"), None
    decided = _hitl_decision(answer)
    if decided is not None:
        return decided
    return False, (
        f"the graph was resumed with {answer!r}; resume with True, False, "
        '{"approved": ..., "reason": ...} or {"type": "approve"} / {"type": "reject"}'
    )


def _hitl_decision(answer: Any) -> tuple[bool, str | None] | None:
    """A decision as create_agent's HumanInTheLoopMiddleware is resumed with: one
    ``{"type": "approve"}`` or ``{"type": "reject", "message": ...}``, alone (its per-call
    mode) or as ``{"decisions": [...]}`` (its batched mode); None for anything else."""
    if isinstance(answer, Mapping) and "decisions" in answer:
        decisions = answer["decisions"]
        if not isinstance(decisions, list) or len(decisions) != 1:
            return None
        answer = decisions[0]
    if not isinstance(answer, Mapping) or answer.get("type") not in ("approve", "reject"):
        return None
    message = answer.get("message")
    return answer["type"] == "approve", str(message) if message is not None else None


def _sandbox_tool(item: LangChainToolInput, require_approval: Collection[str]) -> Tool:
    if not isinstance(item, BaseTool):
        return plain_tool(item, require_approval, framework="LangChain")
    if item.name == "execute_code":
        raise ConfigurationError("execute_code cannot call itself; pass the other tools")
    # A copy that raises instead of answering with the error's text: the program then gets a
    # ToolError it can catch, not a string that looks like a result.
    lc_tool = item.model_copy(update={"handle_tool_error": False, "handle_validation_error": False})
    name, needs_id = item.name, _takes_call_id(item)
    graph = GraphArgs.of(item, _injected_names(item))

    async def call(**arguments: Any) -> Any:
        # `ainvoke` picks up the running tool's config, so this is a child run of
        # execute_code: callbacks and tracers see it nested under it.
        if not needs_id and graph is None:
            return await lc_tool.ainvoke(arguments)
        call_id = (_ids.get() or NestedCallIds(None)).next()
        if graph is not None:  # the graph's state, store, runtime: never the program's
            arguments = {**arguments, **graph.values(call_id)}
        if needs_id:
            output = await lc_tool.ainvoke(
                {"type": "tool_call", "id": call_id, "name": name, "args": arguments}
            )
        else:
            output = await lc_tool.ainvoke(arguments)
        if isinstance(output, ToolMessage):
            return output.content
        if isinstance(output, ToolOutputMixin):  # a LangGraph Command, say
            raise TypeError(
                f"{name}() answered with a {type(output).__name__}, which only the agent's "
                "own tool node can apply; give the model this tool directly, not through "
                "execute_code"
            )
        return output

    return sandbox_tool(
        name,
        _json_schema(lc_tool),
        call,
        description=lc_tool.description,
        gated=named_in(name, require_approval),
        framework="LangChain",
        returns=NO_RETURN if needs_id else _returns(lc_tool),
    )


def _returns(lc_tool: BaseTool) -> Any:
    """What the tool's function returns, as its annotation says: what a program gets from a
    call (not for ``content_and_artifact``: the program gets the content alone)."""
    if lc_tool.response_format != "content":
        return NO_RETURN
    fn = getattr(lc_tool, "coroutine", None) or getattr(lc_tool, "func", None)
    return return_annotation(fn) if fn is not None else NO_RETURN


def _check_names(items: Iterable[Any]) -> None:
    """A name that is not a Python identifier is made one (``get-forecast`` is called
    ``get_forecast``); two tools that would get the same name are refused."""
    unique_names(
        (n for t in items if isinstance(n := getattr(t, "name", None), str)),
        framework="LangChain",
        fix="rename one (its name=, e.g. @tool('other_name') or StructuredTool(name=...))",
    )


def _takes_call_id(lc_tool: BaseTool) -> bool:
    """Whether the tool has an ``InjectedToolCallId`` argument (it must be given a ToolCall)."""
    from langchain_core.tools.base import _is_injected_arg_type

    schema = lc_tool.args_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        for annotation in get_all_basemodel_annotations(schema).values():
            if _is_injected_arg_type(annotation, injected_type=InjectedToolCallId):
                return True
    return "tool_call_id" in getattr(lc_tool, "_injected_args_keys", ())


def _json_schema(lc_tool: BaseTool) -> dict[str, Any]:
    """JSON schema of the arguments the model would give the tool. The arguments LangChain
    fills itself are left out of it (so a program cannot pass them: codeact refuses a name
    the schema does not declare); a schema that takes any other name rules them out by name."""
    schema: Any = lc_tool.tool_call_schema
    if isinstance(schema, dict):
        described = dict(schema)
    elif hasattr(schema, "model_json_schema"):
        described = dict(schema.model_json_schema())
    else:
        described = dict(schema.schema())  # a pydantic.v1 model
    hidden = _injected_names(lc_tool)
    if hidden and ArgumentNames.of(described) is None:
        described["propertyNames"] = {"not": {"enum": sorted(hidden)}}
    return described


def _injected_names(lc_tool: BaseTool) -> set[str]:
    """The arguments LangChain fills itself: InjectedToolArg and its kinds (InjectedState,
    InjectedStore, InjectedToolCallId), a directly injected runtime, callbacks."""
    from langchain_core.tools.base import FILTERED_ARGS, _is_injected_arg_type

    names = set(FILTERED_ARGS) | set(getattr(lc_tool, "_injected_args_keys", ()))
    schema = lc_tool.args_schema
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        annotations = get_all_basemodel_annotations(schema)
        names.update(n for n, a in annotations.items() if _is_injected_arg_type(a))
    return names
