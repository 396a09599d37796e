"""codeact's sandbox as the sandbox provider of FastMCP's ``CodeMode``.

>>> from fastmcp.experimental.transforms.code_mode import CodeMode
>>> from codeact.integrations.fastmcp import CodeActSandboxProvider
>>> sandbox = CodeActSandboxProvider(limits=Limits(wall_time=10))
>>> mcp.add_transform(CodeMode(sandbox_provider=sandbox))  # doctest: +SKIP

Programs keep CodeMode's conventions (``await call_tool("name", {...})``, ``return`` the
answer; a last expression is returned too) and run in a fresh CPython in codeact's sandbox
with its limits, mounts and allow-list, instead of in Monty, a Python subset. The external
functions (CodeMode's ``call_tool``, which calls the server's tools) run on the host, so the
server's middleware sees every nested call. A failing or stopped program raises FastMCP's
`ToolError` with the traceback or the limit that stopped it: the client gets an error result.

FastMCP has no human-in-the-loop of its own for a call made from code, so calls of the server
tools named in ``require_approval`` are asked to codeact's ``approval_handler`` (denied without
one); the program gets a catchable ``ToolDenied``. The gate is kept on the host: a gated tool
is reached only through its own gated host tool, whatever route the program takes
(``call_tool``, the ``mcp_call_tool`` host tool, ``call_tool_async``).
``execute_description`` is CodeMode's description with what codeact adds (the files and
domains granted, the limits): pass it as ``CodeMode(execute_description=...)``.
Needs ``pip install -e '.[fastmcp]'``.
"""

from __future__ import annotations

import contextvars
import inspect
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .._extras import needs_extra

with needs_extra("fastmcp", __name__):
    from fastmcp.exceptions import ToolError

from .. import CallDenied, CodeAct, ConfigurationError, ExecutionResult
from .._display import utf8_safe_json
from ._adapter import AdapterCore, codeact_from, result_text, sandbox_tool
from ._fastmcp_program import fix_line_numbers, wrap_program

__all__ = ["CodeActSandboxProvider"]

_CALL_TOOL_SCHEMA = {
    "type": "object",
    "properties": {"tool_name": {"type": "string"}, "params": {"type": "object"}},
    "required": ["tool_name"],
}
_ANY_CALL_SCHEMA = {
    "type": "object",
    "properties": {"args": {"type": "array"}, "kwargs": {"type": "object"}},
}

_external: contextvars.ContextVar[Mapping[str, Callable[..., Any]] | None] = contextvars.ContextVar(
    "codeact_fastmcp_external_functions", default=None
)
# The gated server tools of the provider whose program runs: {server tool: its host tool}.
_gates: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "codeact_fastmcp_gates", default=None
)


class CodeActSandboxProvider:
    """A FastMCP `SandboxProvider`: ``await run(code, inputs=..., external_functions=...)``.

    Args:
        codeact: A ready `CodeAct` to run programs on (then pass no other options).
        require_approval: Names of server tools whose calls from a program need approval.
        **options: `CodeAct`'s options: ``limits``, ``backend``, ``file_mounts``,
            ``allowed_domains``, ``approval_handler``, ``middleware``, ``audit``...
    """

    def __init__(
        self,
        *,
        codeact: CodeAct | None = None,
        require_approval: Collection[str] = (),
        **options: Any,
    ) -> None:
        if "tools" in options:  # a program calls the server's own tools (CodeMode's call_tool)
            raise ConfigurationError(
                "CodeActSandboxProvider takes no tools=: a program calls the FastMCP server's "
                "own tools (register them on the server); pass codeact= or CodeAct's options"
            )
        self._core: AdapterCore = codeact_from(
            tools=(), codeact=codeact, options=options, framework="FastMCP"
        )
        # FastMCP's own approval happens nowhere: codeact's handler decides each call.
        self._core.framework_approves = False
        self._ensure_tool("mcp_call_tool", _CALL_TOOL_SCHEMA, _call_ungated, gated=False)
        # A gated server tool gets a host tool of its own, named after it where Python allows,
        # so approvals, denials and the audit name the tool the person knows.
        self._gated: dict[str, str] = {}
        for name in require_approval:
            for host in (_host_name("", name), _host_name("mcp_gated_", name)):
                if self._core.codeact.tools.get(host) is not None:
                    continue  # taken (by a tool of a ready CodeAct, say)
                try:
                    call = _call_gated(name)
                    about = f"calls {name}"
                    self._ensure_tool(host, _CALL_TOOL_SCHEMA, call, gated=True, about=about)
                except ConfigurationError:
                    continue
                self._gated[name] = host
                break
            else:  # never run a gated tool through the ungated route instead
                raise ConfigurationError(
                    f"the gated tool {name!r} got no host tool of its own: both "
                    f"{_host_name('', name)!r} and {_host_name('mcp_gated_', name)!r} are taken"
                )

    @property
    def codeact(self) -> CodeAct:
        return self._core.codeact

    @property
    def execute_description(self) -> str:
        """CodeMode's description of its execute tool, with codeact's grants and limits."""
        limits = self._core.codeact.limits
        lines = [
            "Chain `await call_tool(...)` calls in one Python block; prefer returning the final "
            "answer from a single block.",
            "Use `return` to produce output.",
            "`call_tool(tool_name: str, params: dict) -> Any` calls a tool; a failing call "
            "raises ToolError, a refused one ToolDenied (both catchable).",
            "The block runs in a fresh, isolated CPython with the standard library "
            f"(wall time {limits.wall_time:g}s, memory {limits.memory_mb} MiB).",
        ]
        # The sandbox's rules (files, network, packages), as codeact tells its own models.
        described = self._core.codeact.tool_description()
        start = described.find("The sandbox starts empty")
        rules = described[start:] if start >= 0 else ""
        return "\n".join(lines) + ("\n\n" + rules if rules else "")

    async def run(
        self,
        code: str,
        *,
        inputs: dict[str, Any] | None = None,
        external_functions: dict[str, Callable[..., Any]] | None = None,
    ) -> Any:
        """Run CodeMode's program; return what it returned (or, if nothing, what it printed)."""
        functions = dict(external_functions or {})
        bindings: dict[str, str] = {}
        for name in functions:
            if name == "call_tool":
                # CodeMode's call_tool(tool_name, params), positionally or by keyword.
                route = repr({n: h for n, h in self._gated.items()})
                bindings[name] = (
                    f"lambda tool_name, params=None, **kw: call_tool_async("
                    f"{route}.get(tool_name, 'mcp_call_tool'), tool_name=tool_name, "
                    "params={**(params or {}), **kw})"
                )
            else:
                host = _host_name("mcp_ext_", name)
                self._ensure_tool(host, _ANY_CALL_SCHEMA, _forward(name), gated=False)
                bindings[name] = (
                    f"lambda *args, **kwargs: call_tool_async({host!r}, args=list(args), "
                    "kwargs=kwargs)"
                )
        program = wrap_program(code, bindings=bindings, inputs=inputs)
        token = _external.set(functions)
        gates = _gates.set(dict(self._gated))
        try:
            result = await self._core.execute(program)
        finally:
            _gates.reset(gates)
            _external.reset(token)
        if not result.ok:
            raise ToolError(fix_line_numbers(result_text(result)))
        return _returned(result)

    # -- host side ----------------------------------------------------------------------
    def _ensure_tool(
        self,
        name: str,
        schema: Mapping[str, Any],
        call: Callable[..., Any],
        *,
        gated: bool,
        about: str = "",
    ) -> None:
        if self._core.codeact.tools.get(name) is None:
            self._core.codeact.add_tools(
                sandbox_tool(
                    name, schema, call, description=about, gated=gated, framework="FastMCP"
                )
            )

    def __repr__(self) -> str:
        return f"CodeActSandboxProvider({self._core.codeact!r})"


async def _call_ungated(tool_name: str, params: Mapping[str, Any] | None = None) -> Any:
    """``mcp_call_tool``: any server tool but a gated one, which only its gated host tool
    calls (so a program cannot skip the approval by naming it here)."""
    if tool_name in (_gates.get() or {}):
        raise CallDenied(
            f"{tool_name} needs approval: call it as call_tool({tool_name!r}, {{...}})",
            by="FastMCP gate",
        )
    return await _forward("call_tool")(args=[tool_name, dict(params or {})])


def _call_gated(server_tool: str) -> Callable[..., Any]:
    """The gated host tool of `server_tool`: calls that tool and no other (the person
    approved a call of it)."""

    async def call(tool_name: str, params: Mapping[str, Any] | None = None) -> Any:
        if tool_name != server_tool:
            raise CallDenied(
                f"this host tool calls {server_tool} only, not {tool_name}", by="FastMCP gate"
            )
        return await _forward("call_tool")(args=[tool_name, dict(params or {})])

    return call


def _forward(name: str) -> Callable[..., Any]:
    async def forward(args: list[Any] | None = None, kwargs: dict[str, Any] | None = None) -> Any:
        functions = _external.get()
        if functions is None or name not in functions:
            raise RuntimeError(f"{name}() is not available to this program")
        value = functions[name](*(args or []), **(kwargs or {}))
        return await value if inspect.isawaitable(value) else value

    return forward


def _host_name(prefix: str, name: str) -> str:
    return prefix + re.sub(r"\W", "_", name)


def _returned(result: ExecutionResult) -> Any:
    # Lone surrogates in a program's value escaped: FastMCP sends it as UTF-8 JSON.
    if result.value_repr is not None:
        return result.value_repr
    if result.value is not None:
        return utf8_safe_json(result.value)
    return result.stdout or None
