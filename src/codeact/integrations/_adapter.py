"""What the framework adapters share: one `CodeAct` from their options, framework tools as
sandbox tools, the result as text for the model, and gated calls approved by the framework.

Each adapter (`langchain`, `pydantic_ai`, `openai_agents`, `fastmcp`, `smolagents`) is a thin
face over this: it turns its framework's tools into codeact `Tool`s with `sandbox_tool`, builds
or takes a `CodeAct` with `codeact_from`, and reports an `ExecutionResult` the way its framework
reports a tool's result or failure.

Approvals. A framework with its own human-in-the-loop (a LangGraph interrupt, a Pydantic AI
deferred approval, an OpenAI Agents ``needs_approval``) asks a person *before* the program
runs: `plan_to_approve` scans the code for the gated calls it makes, the adapter hands that to
the framework, and once the person approves, the program runs under `approved_plan`, which
lets the calls the person saw through (`FrameworkApprovals`): a site that is not in a loop as
many times as the question said, a site in a loop, comprehension or function (shown as "any
number of times") as often as it runs. A program that also
reaches tools in ways the scan cannot name is not put to the person (such a call could take the
grant of one shown): its gated calls are denied with a reason, so nothing runs that the person
was not shown. Without
such a mechanism (FastMCP), or when the user passes ``approval_handler=`` themselves, codeact's
own approval handler decides each call as it happens.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import CodeAct, ConfigurationError, ExecutionResult, Tool
from ..bridge import stops
from ..calls.site_grants import plan_sites
from ..errors import ToolDefinitionError
from ..tools import is_dunder, taken_in_sandbox
from ..tools.callables import NO_RETURN
from ..tools.toolset import tool_list
from ._framework_approvals import (
    FrameworkApprovals,
    GatedCalls,
    approval_payload,
    approved_plan,
    for_this_program,
)
from ._program_gate import ProgramGate

__all__ = [
    "AdapterCore",
    "FrameworkApprovals",
    "GatedCalls",
    "NestedCallIds",
    "approval_payload",
    "codeact_from",
    "gated_copy",
    "named_in",
    "plain_tool",
    "python_name",
    "result_text",
    "sandbox_tool",
    "unique_names",
]


def result_text(result: ExecutionResult) -> str:
    """What the model reads back: output, value, and the error or the limit that stopped it."""
    return result.to_model_text()


def sandbox_tool(
    name: str,
    parameters: Mapping[str, Any],
    call: Callable[..., Any],
    *,
    description: str = "",
    gated: bool = False,
    timeout: float | None = None,
    framework: str,
    returns: Any = NO_RETURN,
    returns_schema: Mapping[str, Any] | None = None,
) -> Tool:
    """A framework's tool as a codeact `Tool`: the program calls it by name, `call` runs it on
    the host with the validated arguments as keywords. A name that is not a Python identifier
    (``get-forecast``) becomes one (``get_forecast``, as `python_name` makes it), and the
    description tells the model so. `returns`, the return annotation of the framework tool's
    function (`tools.callables.return_annotation`), or else `returns_schema`, the JSON schema of its
    result, shows the model what a call gives; `timeout` is `Tool.from_schema`'s."""
    called = python_name(name)
    if called != name:
        description = (
            f"{description.rstrip()} (the {framework} tool {name!r}: call it as {called})"
        ).strip()
    try:
        return Tool.from_schema(
            called,
            parameters,
            call,
            description=description,
            returns=returns_schema,
            return_annotation=returns,
            approval_mode="always_require" if gated else "never_require",
            timeout=timeout,
        )
    except ToolDefinitionError as exc:
        raise ConfigurationError(
            f"the {framework} tool {name!r} cannot be a sandbox tool: {exc}"
        ) from exc


def python_name(name: str) -> str:
    """A tool's name as a Python identifier: the sandbox calls each tool by its name
    (``server-info`` -> ``server_info``; a keyword, builtin or reserved name gets a ``_``,
    one of Python's own ``__names__`` a ``tool`` in front)."""
    text = re.sub(r"\W", "_", unicodedata.normalize("NFKC", name))  # as Python reads names
    if not text or text[0].isdigit():
        text = "_" + text
    if is_dunder(text):
        text = "tool" + text
    while taken_in_sandbox(text):
        text += "_"
    return text


def named_in(name: str, names: Collection[str]) -> bool:
    """Whether a tool is named in `names` (``require_approval``) by its own name or by the
    Python name the sandbox calls it by."""
    return name in names or python_name(name) in names


def unique_names(names: Iterable[str], *, framework: str, fix: str) -> None:
    """Refuse tools whose Python names (`python_name`) collide, saying what to do for their
    source (`fix`), before any of them is added."""
    seen: dict[str, str] = {}
    for name in names:
        called = python_name(name)
        other = seen.setdefault(called, name)
        if other != name:
            raise ConfigurationError(
                f"the {framework} tools {other!r} and {name!r} would both be called {called} "
                f"in the sandbox; {fix}"
            )


def tool_items(tools: Any, *, framework: str) -> list[Any]:
    """The items of `tools=`, which must be a list: one tool passed alone (the commonest slip)
    is a one-line error that shows the fix, not "'function' object is not iterable"."""
    return tool_list(tools, what=f"tools of the {framework} adapter must be a list")


def plain_tool(item: Any, require_approval: Collection[str], *, framework: str) -> Tool:
    """A codeact `Tool` as is, or a plain function read as codeact reads it (signature and
    docstring), gated when its name is in `require_approval`."""
    if isinstance(item, Tool):
        return gated_copy(item) if item.name in require_approval else item
    if not callable(item):
        raise ConfigurationError(
            f"tools of the {framework} adapter must be its tools, functions or codeact Tools, "
            f"got {item!r}"
        )
    gated = getattr(item, "__name__", "") in require_approval
    return Tool(item, approval_mode="always_require" if gated else "never_require")


def gated_copy(tool: Tool) -> Tool:
    """`tool`, gated: a copy whose every call needs approval (the user's `Tool` is left as
    it is; it may serve another CodeAct ungated)."""
    if tool.approval_mode == "always_require":
        return tool
    gated = copy.copy(tool)
    gated.approval_mode = "always_require"
    return gated


class NestedCallIds:
    """Ids for the calls a program makes: ``<execute_code call id>/1``, ``/2``..."""

    def __init__(self, parent: str | None) -> None:
        self.parent = parent or "execute_code"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.parent}/{next(self._counter)}"


@dataclass
class AdapterCore:
    """The `CodeAct` behind an adapter, and whether the framework's human-in-the-loop decides
    gated calls (only for a CodeAct the adapter built without an ``approval_handler``)."""

    codeact: CodeAct
    framework_approves: bool
    gate: ProgramGate = field(default_factory=ProgramGate, repr=False)

    async def execute(self, code: str, *, call_id: str | None = None) -> ExecutionResult:
        """Run `code` when the adapter's `ProgramGate` gives it a turn; `call_id` is the
        model's id of the call that sent it (on the program's span)."""
        with for_this_program():
            return await self.gate.execute(self.codeact, code, call_id=call_id)

    def execute_sync(self, code: str) -> ExecutionResult:
        """`execute` from a thread without an event loop."""
        with for_this_program():
            return self.gate.execute_sync(self.codeact, code)

    def plan_to_approve(self, code: str) -> GatedCalls | None:
        """The gated calls of `code` (``{tool: call sites}``, and the tools whose sites may
        repeat) when the framework must ask a person before it runs; None when nothing needs
        asking."""
        if not self.framework_approves or stops.code_size(code, self.codeact.limits):
            return None  # a program over Limits.code_bytes is refused unread when it runs
        plan = self.codeact.scan(code)
        if plan.dynamic or plan.syntax_error or plan.carried:
            # A gated call the scan cannot name could not be told from one it shows: grants
            # are per tool, so it would take a shown call's grant. Nothing is asked and no
            # gated call runs (`FrameworkApprovals` says why).
            return None
        gated = GatedCalls(
            plan.counts(gated_only=True),
            (c.tool for c in plan.gated if c.repeated),
            sites=plan_sites(plan, loops_repeat=True),
        )
        if gated or self.codeact.approval_mode == "always_require":
            return gated
        if self.codeact.approval_scope == "block" and any(
            t.approval_mode == "always_require" for t in self.codeact.tools
        ):
            return gated  # as the reference does: any gated tool makes every block asked
        return None

    def approved_plan(
        self, counts: Mapping[str, int], *, by: str
    ) -> contextlib.AbstractContextManager[None]:
        """Run the program inside this block after the framework's person approved `counts`
        (what `plan_to_approve` returned: its call sites, each granting what it shows)."""
        return approved_plan(counts, by=by)


def codeact_from(
    *,
    tools: Iterable[Tool],
    codeact: CodeAct | None,
    options: Mapping[str, Any],
    framework: str,
) -> AdapterCore:
    """A ready `codeact` (with `tools` added) or a new `CodeAct(tools=tools, **options)`."""
    if codeact is not None:
        if options:
            raise ConfigurationError(
                f"pass either codeact=CodeAct(...) or CodeAct's options "
                f"({', '.join(sorted(options))}) to the {framework} adapter, not both"
            )
        if not isinstance(codeact, CodeAct):
            raise ConfigurationError(
                f"codeact must be a codeact.CodeAct, got {type(codeact).__name__}"
            )
        codeact.add_tools(*tools)
        return AdapterCore(codeact, framework_approves=False)
    options = dict(options)
    if "tools" in options:
        raise ConfigurationError("tools is given twice")
    user_handler = options.pop("approval_handler", None)
    try:
        built = CodeAct(tools=tools, approval_handler=FrameworkApprovals(user_handler), **options)
    except TypeError as exc:
        raise ConfigurationError(
            f"the {framework} adapter takes tools=, codeact= and CodeAct's options: {exc}"
        ) from exc
    return AdapterCore(built, framework_approves=user_handler is None)
