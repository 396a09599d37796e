"""codeact's sandbox as the Python executor of smolagents' ``CodeAgent``.

>>> from codeact.integrations.smolagents import CodeActExecutor
>>> executor = CodeActExecutor(tools=[get_weather], limits=Limits(wall_time=10))
>>> agent = CodeAgent(tools=[convert], model=model, executor=executor)  # doctest: +SKIP

Each code step runs in a fresh CPython in codeact's sandbox, with its limits, mounts,
allow-list, packages and approvals. The tools (the agent's smolagents `Tool`s and managed
agents, which `CodeAgent` hands over with ``send_tools``, and the ``tools=`` given here:
smolagents `Tool`s, plain functions or codeact `Tool`s) run on the host: no tool's source is
copied into the sandbox, so tools holding credentials or clients (MCP tools) work.

The steps of an agent share a codeact session: a variable, function, class or import of a step
that finished is there in the next step. ``final_answer(x)`` calls the agent's
``final_answer`` tool on the host and ends the program, and the step is the agent's final
answer, as smolagents expects. What a step printed is its logs. A failing program raises
smolagents' `InterpreterError`, so the agent records the error for the model and goes on; a
program stopped by a limit says which limit (``[stopped] ... wall time ...``). The agent's
``additional_args`` (``send_variables``) reach the programs as variables; they travel as JSON.

smolagents has no human-in-the-loop for a call made from code: calls of the tools named in
``require_approval`` are asked to codeact's ``approval_handler`` as they happen (denied without
one), and the program gets a catchable ``ToolDenied``. Needs ``pip install -e '.[smolagents]'``.
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeAlias

from .._extras import needs_extra

with needs_extra("smolagents", __name__):
    # smolagents ships no type information (no py.typed): pyproject's mypy overrides say so.
    from smolagents.local_python_executor import (
        CodeOutput,
        InterpreterError,
        PythonExecutor,
    )
    from smolagents.tools import Tool as SmolTool

from .. import CodeAct, ConfigurationError, ExecutionResult, Tool
from ..runtime._sync import PrivateLoop, result_or_interrupted
from ..runtime.session import Session
from ._adapter import (
    AdapterCore,
    codeact_from,
    named_in,
    plain_tool,
    sandbox_tool,
    tool_items,
    unique_names,
)

__all__ = ["CodeActExecutor", "SmolagentsToolInput"]

#: What `CodeActExecutor(tools=...)` takes.
SmolagentsToolInput: TypeAlias = SmolTool | Tool | Callable[..., Any]

_FINAL = "final_answer"
_NO_ANSWER = object()
# smolagents' input types that JSON schema knows; "any", "image" and "audio" are unconstrained.
_JSON_TYPES = frozenset({"string", "boolean", "integer", "number", "array", "object", "null"})


class CodeActExecutor(PythonExecutor):  # type: ignore[misc]  # smolagents has no type hints
    """A smolagents `PythonExecutor` that runs each code step in codeact's sandbox.

    Args:
        tools: smolagents `Tool`s, plain functions or codeact `Tool`s the programs may call,
            besides the agent's own tools (which the agent sends itself).
        codeact: A ready `CodeAct` to run programs on (then pass no other options).
        require_approval: Names of tools whose calls ``approval_handler`` must approve.
        **options: `CodeAct`'s options: ``limits``, ``backend``, ``file_mounts``,
            ``allowed_domains``, ``packages``, ``approval_handler``, ``middleware``, ``audit``...
    """

    def __init__(
        self,
        *,
        tools: Iterable[SmolagentsToolInput] = (),
        codeact: CodeAct | None = None,
        require_approval: Collection[str] = (),
        **options: Any,
    ) -> None:
        self._require_approval = frozenset(require_approval)
        given = tool_items(tools, framework="smolagents")
        converted = [self._sandbox_tool(t) for t in given]
        self._core: AdapterCore = codeact_from(
            tools=converted, codeact=codeact, options=options, framework="smolagents"
        )
        # smolagents asks no person before a step runs: codeact's handler decides each call.
        self._core.framework_approves = False
        # The tools given here (not the agent's), by name, as the user gave them.
        self._own = {t.name: item for t, item in zip(converted, given, strict=True)}
        self._sent: dict[str, Any] = {}  # the agent's tools now mirrored, by name
        self._added: list[str] = []  # their names in the sandbox
        self._session: Session = self._core.codeact.session()
        self._pending: dict[str, Any] = {}  # variables to define before the next step
        self._answer: Any = _NO_ANSWER
        self._final_for: Tool | None = None  # the final_answer tool the guest's def calls
        self._loop = PrivateLoop(self, name="codeact-smolagents")
        self._lock = threading.Lock()
        #: What smolagents reads after a failed step: ``state["_print_outputs"]`` is its logs.
        self.state: dict[str, Any] = {"_print_outputs": ""}

    @property
    def codeact(self) -> CodeAct:
        return self._core.codeact

    @property
    def session(self) -> Session:
        """The session the steps share (``session.names``, ``session.state``...)."""
        return self._session

    @property
    def instructions(self) -> str:
        """The sandbox's rules (variables kept, files, network, packages) and the tools given
        to the executor (smolagents' own prompt lists only the agent's), for
        ``CodeAgent(instructions=...)``."""
        codeact = self._core.codeact
        described = codeact.tool_description(session=True)
        start = described.find("Each call runs in a fresh sandbox")
        rules = described[start:] if start >= 0 else ""
        rules = rules.replace("Each call runs", "Each code step runs", 1)
        rules = rules.replace("for the next call", "for the next step", 1)
        # The tools given here are not the agent's, so its prompt does not list them.
        own = [t for name in self._own if (t := codeact.tools.get(name)) is not None]
        listed = "".join(
            f"- {t.signature}" + (f": {t.description}" if t.description else "") + "\n" for t in own
        )
        return (
            "Your code runs in an isolated sandbox: CPython with its whole standard library "
            "(import any of its modules). A tool call that fails raises ToolError, a refused "
            "one ToolDenied; catch them to carry on.\n"
            + (
                f"These functions exist in the sandbox too; call them directly:\n{listed}"
                if own
                else ""
            )
            + rules
        )

    # -- smolagents' PythonExecutor ----------------------------------------------------------
    def send_tools(self, tools: dict[str, Any]) -> None:
        """The agent's tools and managed agents, mirrored as sandbox tools that run here."""
        shape = {name: tool for name, tool in tools.items() if name not in self._own}
        for name in self._own.keys() & tools.keys():
            if tools[name] is not self._own[name]:
                raise ConfigurationError(
                    f"the agent's tool {name!r} has the name of a tool given to "
                    "CodeActExecutor(tools=...); give it once, to the agent or to the executor"
                )
        if shape.keys() == self._sent.keys() and all(shape[n] is self._sent[n] for n in shape):
            return
        unique_names(
            shape,
            framework="smolagents",
            fix="rename one (its name attribute) so that each has its own Python name",
        )
        made = [self._sandbox_tool(t, name=n) for n, t in shape.items()]
        for name in self._added:
            self._core.codeact.remove_tool(name)
        self._core.codeact.add_tools(*made)
        self._sent, self._added = shape, [t.name for t in made]

    def send_variables(self, variables: dict[str, Any]) -> None:
        """Define `variables` (the agent's ``additional_args``) before the next step runs."""
        for name, value in variables.items():
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                raise ConfigurationError(
                    f"additional_args key {name!r} is not a Python name; use names the "
                    "program can refer to (letters, digits, underscores)"
                )
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"additional_args[{name!r}] is a {type(value).__name__}, which cannot be "
                    "sent into the sandbox: pass JSON values (dict, list, str, int, float, "
                    "bool, None), or write it to a file and grant it with file_mounts="
                ) from None
        self._pending.update(variables)

    def __call__(self, code_action: str) -> CodeOutput:
        """Run one code step; smolagents reads its output, logs and final answer."""
        with self._lock:
            self._prepare()
            self._answer = _NO_ANSWER
            result = self._run(code_action)
            answer, self._answer = self._answer, _NO_ANSWER
        logs = _logs(result)
        self.state["_print_outputs"] = logs
        if not result.ok:
            raise InterpreterError(_failure(result))
        if answer is not _NO_ANSWER:
            return CodeOutput(output=answer, logs=logs, is_final_answer=True)
        output = result.value_repr if result.value_repr is not None else result.value
        return CodeOutput(output=output, logs=logs, is_final_answer=False)

    def cleanup(self) -> None:
        """Stop the private event loop (``CodeAgent.cleanup()`` and ``with agent:`` call it);
        the session's state stays, and a later step starts a new loop."""
        self._loop.close()

    # -- running -----------------------------------------------------------------------------
    def _run(self, code: str) -> ExecutionResult:
        # Our own loop thread, so a step runs even where the caller's thread runs an event
        # loop (a notebook); Ctrl-C stops the program and keeps what it printed.
        future = self._loop.get().submit(self._session.execute(code))
        return result_or_interrupted(self._core.codeact, future)

    def _prepare(self) -> None:
        """Run a setup program in the session when it lacks the guest's ``final_answer``
        (which calls the host tool, then ends the program) or variables were sent."""
        lines: list[str] = []
        final = self._core.codeact.tools.get(_FINAL)
        if final is not None and (
            final is not self._final_for or _FINAL not in self._session.names
        ):
            names = [p for p in final.parameters.get("properties", {}) if p.isidentifier()]
            required = set(final.parameters.get("required", names))
            params = [p for p in names if p in required] + [p for p in names if p not in required]
            signature = ", ".join(p if p in required else f"{p}=None" for p in params)
            arguments = ", ".join(f"{p}={p}" for p in params)
            lines += [
                f"def {_FINAL}({signature}):",
                '    """Give the final answer and end the program."""',
                f"    call_tool({_FINAL!r}, {arguments})",
                "    raise SystemExit(0)",
            ]
        if self._pending:
            encoded = json.dumps(self._pending, allow_nan=False)
            lines += [
                "import json as _codeact_json",
                f"globals().update(_codeact_json.loads({encoded!r}))",
                "del _codeact_json",
            ]
        if not lines:
            return
        result = self._run("\n".join(lines) + "\n")
        if not result.ok or result.session is None or not result.session.kept:
            raise InterpreterError(
                "codeact could not prepare the session for this step:\n" + result.to_model_text()
            )
        self._pending.clear()
        self._final_for = final

    # -- tools -------------------------------------------------------------------------------
    def _sandbox_tool(self, item: Any, *, name: str | None = None) -> Tool:
        if isinstance(item, Tool) or not _is_smol_tool(item):
            return plain_tool(item, self._require_approval, framework="smolagents")
        tool_name = name or str(item.name)
        if tool_name == _FINAL:
            return self._final_answer_tool(item)

        def call(**arguments: Any) -> Any:
            return item(**arguments)

        return sandbox_tool(
            tool_name,
            _json_schema(item.inputs),
            call,
            description=str(getattr(item, "description", "") or ""),
            gated=named_in(tool_name, self._require_approval),
            framework="smolagents",
        )

    def _final_answer_tool(self, item: Any) -> Tool:
        def record(**arguments: Any) -> None:
            self._answer = item(**arguments)  # the agent's tool: it may check or reshape

        return sandbox_tool(
            _FINAL,
            _json_schema(item.inputs),
            record,
            description="Give the final answer and end the program.",
            gated=_FINAL in self._require_approval,
            framework="smolagents",
        )

    def __repr__(self) -> str:
        return f"CodeActExecutor({self._core.codeact!r})"


def _is_smol_tool(item: Any) -> bool:
    """A smolagents `Tool` or a managed agent (both have a name, inputs and a __call__)."""
    return isinstance(item, SmolTool) or (
        callable(item)
        and isinstance(getattr(item, "name", None), str)
        and isinstance(getattr(item, "inputs", None), Mapping)
    )


def _json_schema(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema of a smolagents tool's ``inputs``."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in inputs.items():
        spec = spec if isinstance(spec, Mapping) else {}
        declared = spec.get("type")
        types = declared if isinstance(declared, list) else [declared]
        prop: dict[str, Any] = {"description": str(spec.get("description", ""))}
        if types and all(t in _JSON_TYPES for t in types):
            known = [*types, "null"] if spec.get("nullable") and "null" not in types else types
            prop["type"] = known[0] if len(known) == 1 else known
        for key in ("enum", "items", "properties"):
            if key in spec:
                prop[key] = spec[key]
        properties[name] = prop
        if not spec.get("nullable"):
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def _logs(result: ExecutionResult) -> str:
    """What the step printed, then its stderr and what codeact adds (files, the session)."""
    parts = [result.stdout.rstrip("\n")] if result.stdout else []
    if result.ok:
        quiet = dataclasses.replace(result, stdout="", value=None, value_repr=None)
        extra = quiet.to_model_text()
        if not extra.startswith("[the program printed nothing"):
            parts.append(extra)
    return "\n".join(parts) + ("\n" if parts else "")


def _failure(result: ExecutionResult) -> str:
    """The error smolagents shows the model: the traceback or the limit that stopped the
    program, what else codeact reports, but not the output (that is the step's logs)."""
    return dataclasses.replace(result, stdout="", value=None, value_repr=None).to_model_text()
