"""`CodeAct`: tools, limits and a sandbox backend, and the `execute_code` tool built from them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from .._checks import instance_or_none
from .._lifecycle import Closeable
from ..bridge.protocol import ToolCallRecord
from ..bridge.state import GuestState, StateCarry
from ..calls.approvals import (
    APPROVAL_SCOPES,
    DEFAULT_APPROVAL_TIMEOUT,
    ApprovalHandler,
    ApprovalScope,
)
from ..calls.audit import AuditSink, Redactor
from ..calls.middleware import Middleware, MiddlewareFn
from ..calls.outcome import DirectCallResult
from ..calls.pipeline import ToolPipeline
from ..calls.scan import CallPlan, scan_program
from ..errors import ConfigurationError, UserError
from ..policy.limits import Limits
from ..policy.mounts import Mount, MountInput, workspace_mount
from ..policy.network import AllowedDomain, DomainInput, NetworkLimits
from ..policy.outputs import OutputLimits
from ..policy.packages import PackageGrant
from ..sandbox.base import SandboxBackend
from ..sandbox.registry import shared_backend
from ..tools import Tool, ToolSet, as_tool
from ..tools.definition import ApprovalMode
from ._sync import PrivateLoop, refuse_inside_loop, result_or_interrupted
from .events import ExecutionEvent, OutputChunk, event_stream, refuse_async_callbacks
from .execute_tool import ExecuteCodeTool
from .execution import ExecutionSetup, Running, ensure_ready, ensure_ready_sync, execute
from .grants import Grants, collection
from .instructions import describe_execute_code, describe_grants, instructions
from .packages import grant_packages
from .result import ExecutionResult
from .session import Session

__all__ = ["CodeAct"]


class CodeAct(Grants, Closeable):
    """Run model-written Python in a fresh sandbox per call, with tools that stay on the host.

    Example (see the README for a runnable version)::

        codeact = CodeAct(tools=[get_weather], limits=Limits(wall_time=10))
        result = await codeact.execute('get_weather(city="Paris")["temperature_c"]')
        result.ok, result.value  # (True, 21.5)

    Args:
        tools: Functions (plain or `@tool`) the program may call. They run on the host.
        limits: Limits of each execution (default: `Limits()`).
        backend: A backend name ("auto", "wasm", ...) or a `SandboxBackend` instance. Named
            backends are shared by every CodeAct in the process; an instance is yours to close.
        file_mounts: Host directories the program may see: ``"/host/dir"`` (same path
            inside, read-only), ``("/host/dir", "/sandbox/dir")`` (read-only) or
            ``Mount(host, guest, mode="rw")``. Granted to each execution; checked now.
        workspace_root: A host directory visible read-only at ``/input``.
        allowed_domains: HTTP(S) the program may reach: ``"api.example.com"`` (any method),
            ``("api.example.com", "GET")`` or ``AllowedDomain(...)``. Default: no network.
        output_limits: Limits on the files a program hands back under ``/output``.
        network_limits: Limits on its HTTP requests (count, sizes, time, redirects).
        approval_handler: Async callable asked about each call of a tool with
            ``approval_mode="always_require"`` (and about blocks, see `approval_scope`). It gets
            an `ApprovalRequest` and returns True/False or an `Approval`. Without a handler,
            gated calls are denied.
        approval_mode: ``"always_require"`` asks the handler once before every block runs,
            showing its code and the gated calls it may make.
        approval_scope: ``"call"`` (default): each gated call is asked when it happens.
            ``"plan"``: the gated calls a static scan finds are asked once, up front; calls
            beyond them are asked one by one. ``"block"``: as Microsoft's Agent Framework
            does, any gated tool makes every block need approval, which covers every call in it.
        approval_timeout: Seconds a handler may take before the call is denied (None: no limit).
            Time waiting for a person does not count against the wall-time limit.
        middleware: Async functions ``(call, call_next)`` or `Middleware` instances that every
            tool call passes, nested or direct (`call_direct`), outermost first.
        redact: Argument names to hide from records, logs and the audit (or a function).
        audit: Called with every finished call record, e.g. ``JsonlAudit("calls.jsonl")``.
        tracer_provider: An OpenTelemetry tracer provider for this CodeAct's spans (default:
            the global one, when the application uses OpenTelemetry; see
            `codeact.runtime.tracing`). `meter_provider` likewise for the duration metric.
        capture_content: Record the code, tool arguments and results in spans (default: the
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` variable; off when unset).
        packages: Third-party packages the program may import, e.g. ``["tabulate"]``:
            resolved, pinned, hashed and installed now (pip, the user's index settings) into
            the user cache, then granted read-only to every execution. ``wasm`` takes
            pure-Python wheels only; ``jail`` also native ones (numpy, pandas). A
            `PackageGrant` from `resolve_packages` is accepted too.
        packages_wheelhouse: A directory of wheels to install `packages` from, offline.

    Tools run on the host and are not bound by the mounts or the allow-list.
    """

    def __init__(
        self,
        *,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        limits: Limits | None = None,
        backend: str | SandboxBackend = "auto",
        file_mounts: Iterable[MountInput] = (),
        workspace_root: str | os.PathLike[str] | None = None,
        allowed_domains: Iterable[DomainInput] = (),
        output_limits: OutputLimits | None = None,
        network_limits: NetworkLimits | None = None,
        approval_handler: ApprovalHandler | None = None,
        approval_mode: ApprovalMode = "never_require",
        approval_scope: ApprovalScope = "call",
        approval_timeout: float | None = DEFAULT_APPROVAL_TIMEOUT,
        middleware: Iterable[Middleware | MiddlewareFn] = (),
        redact: Redactor | Iterable[str] | None = None,
        audit: AuditSink | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        capture_content: bool | None = None,
        packages: Iterable[str] | PackageGrant = (),
        packages_wheelhouse: str | os.PathLike[str] | None = None,
    ) -> None:
        instance_or_none("limits", limits, Limits)
        if approval_mode not in ("never_require", "always_require"):
            raise ConfigurationError(
                f"approval_mode must be 'never_require' or 'always_require', got {approval_mode!r}"
            )
        if approval_scope not in APPROVAL_SCOPES:
            raise ConfigurationError(
                f"approval_scope must be one of {', '.join(APPROVAL_SCOPES)}, "
                f"got {approval_scope!r}"
            )
        instance_or_none("output_limits", output_limits, OutputLimits)
        instance_or_none("network_limits", network_limits, NetworkLimits)
        self._tools = ToolSet(tools)
        self.limits = limits or Limits()
        self.output_limits = output_limits or OutputLimits()
        self.network_limits = network_limits or NetworkLimits()
        self._workspace = workspace_mount(workspace_root) if workspace_root is not None else None
        self._mounts: tuple[Mount, ...] = ()
        self._domains: tuple[AllowedDomain, ...] = ()
        self.add_file_mounts(collection(file_mounts, "file_mounts"))
        self.add_allowed_domains(collection(allowed_domains, "allowed_domains"))
        self.approval_mode: ApprovalMode = approval_mode
        self.approval_scope: ApprovalScope = approval_scope
        self.pipeline = ToolPipeline(
            middleware=middleware,
            approval_handler=approval_handler,
            approval_timeout=approval_timeout,
            redact=redact,
            audit=audit,
        )
        self.packages = grant_packages(backend, packages, wheelhouse=packages_wheelhouse)
        self._granted_mounts()  # no mount may hide the packages' tree (the jail's is elsewhere)
        if isinstance(backend, SandboxBackend):
            self.backend = backend
        elif isinstance(backend, str):
            self.backend = shared_backend(backend, self.packages)
        else:
            raise ConfigurationError(
                f"backend must be a name or a SandboxBackend, got {type(backend).__name__}"
            )
        self._sync = PrivateLoop(self, name="codeact-sync")
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._capture_content = capture_content
        self._running: Running = set()

    # -- tools ---------------------------------------------------------------------------------
    @property
    def tools(self) -> ToolSet:
        return self._tools

    def add_tools(self, *tools: Tool | Callable[..., Any]) -> None:
        self._tools.add(*tools)

    def remove_tool(self, name: str) -> Tool:
        return self._tools.remove(name)

    def get_tools(self) -> list[Tool]:
        return list(self._tools)

    def clear_tools(self) -> None:
        self._tools.clear()

    # -- what the model sees ---------------------------------------------------------------
    def _grant_lines(self) -> list[str]:
        return describe_grants(
            self._granted_mounts(), self._domains, self.output_limits, self.packages
        )

    def tool_description(self, *, session: bool = False) -> str:
        """The description of the `execute_code` tool: every tool as a typed signature, and the
        files and domains the program may use. `session`: calls share a session's state."""
        return describe_execute_code(
            list(self._tools), grants=self._grant_lines(), persistent=session
        )

    def build_instructions(self, *, session: bool = False) -> str:
        """The system-prompt fragment that tells the model how to use `execute_code`
        (`session`: that its variables persist between calls)."""
        granted = bool(self._mounts or self._workspace or self._domains or self.packages)
        return instructions(
            list(self._tools), grants=self._grant_lines() if granted else (), persistent=session
        )

    def execute_code_tool(
        self, *, name: str = "execute_code", session: Session | None = None
    ) -> ExecuteCodeTool:
        """The `execute_code` tool: name, description, JSON schema and an async callable.
        With `session`, its calls share that session's state (and its description says so)."""
        return ExecuteCodeTool(self, name=name, session=session)

    # -- running -----------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Make the sandbox ready now (build or load the compiled guest, warm the pool)
        instead of on the first execution. The first execution waits for this either way:
        no limit of a program counts while the sandbox is being made ready."""
        await ensure_ready(self.backend)

    def prepare_sync(self) -> None:
        """`prepare` for code that has no event loop (blocking)."""
        ensure_ready_sync(self.backend)

    async def execute(
        self,
        code: str,
        *,
        limits: Limits | None = None,
        on_output: Callable[[OutputChunk], Any] | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
        call_id: str | None = None,
    ) -> ExecutionResult:
        """Run `code` in a fresh sandbox and return what happened (never raises for the
        program's own errors: those are in the result).

        `on_output` is called with each `OutputChunk` the program writes, as it writes it;
        `on_event` with every event (output, tool calls starting and ending, and last the
        `ExecutionFinished`); both on this event loop, in order (see `stream`). With
        OpenTelemetry in use, the execution is a span (see `codeact.runtime.tracing`) whose
        ``gen_ai.tool.call.id`` is `call_id`: the model's id of the call that sent `code`.
        """
        result, _ = await self._execute(
            code, limits=limits, on_output=on_output, on_event=on_event, call_id=call_id
        )
        return result

    def session(
        self,
        *,
        limits: Limits | None = None,
        state: bytes | None = None,
        key: bytes | None = None,
    ) -> Session:
        """A `Session`: calls whose top-level variables, functions, classes and imports carry
        over to the next call (each call still runs in a fresh sandbox). `state` continues from
        an earlier `Session.state`; see `Session` for `key`."""
        return Session(self, limits=limits, state=state, key=key)

    async def _execute(
        self,
        code: str,
        *,
        limits: Limits | None = None,
        carry: StateCarry | None = None,
        on_output: Callable[[OutputChunk], Any] | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
        call_id: str | None = None,
    ) -> tuple[ExecutionResult, GuestState | None]:
        """`execute`, with a session's state carried in and what the guest handed back."""
        if not isinstance(code, str):
            raise UserError(f"code must be a str, got {type(code).__name__}")
        refuse_async_callbacks(on_output=on_output, on_event=on_event)
        return await execute(
            code,
            instance_or_none("limits", limits, Limits) or self.limits,
            self._setup(),
            carry=carry,
            on_output=on_output,
            on_event=on_event,
            call_id=call_id,
        )

    def _setup(self) -> ExecutionSetup:
        """What an execution that starts now runs with (its own copy of the tool set)."""
        return ExecutionSetup(
            backend=self.backend,
            tools=self._tools.copy(),
            pipeline=self.pipeline,
            approval_mode=self.approval_mode,
            approval_scope=self.approval_scope,
            mounts=self._granted_mounts(),
            domains=self._domains,
            output_limits=self.output_limits,
            network_limits=self.network_limits,
            packages=self.packages,
            running=self._running,
            tracer_provider=self._tracer_provider,
            meter_provider=self._meter_provider,
            capture_content=self._capture_content,
        )

    def stream(self, code: str, *, limits: Limits | None = None) -> AsyncIterator[ExecutionEvent]:
        """Run `code` and yield what happens as it happens: `OutputChunk`, `ToolCallStarted`,
        `ToolCallEnded`, and last `ExecutionFinished` with the result::

            async for event in codeact.stream(code):
                if isinstance(event, OutputChunk):
                    print(event.text, end="")

        Leaving the loop early stops the program.
        """
        instance_or_none("limits", limits, Limits)  # now, not at the first event
        return event_stream(lambda on_event: self.execute(code, limits=limits, on_event=on_event))

    def scan(self, code: str) -> CallPlan:
        """The tools `code` may call, how often and where (a static scan; nothing runs)."""
        return scan_program(code, self._tools)

    async def call_direct(
        self,
        tool: Tool | Callable[..., Any] | str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        history: Sequence[ToolCallRecord] = (),
        started: float | None = None,
        run_id: str | None = None,
    ) -> DirectCallResult:
        """Call a tool directly (as an agent does, not from a program) through the same
        middleware, approvals and audit as the calls programs make.

        `tool` is a Tool, a function, or the name of one of this CodeAct's tools; `arguments`
        a mapping or the JSON text a model sent. Never raises for the tool's own failures.
        """
        if isinstance(tool, str):
            found = self._tools.get(tool)
            if found is None:
                raise UserError(self._tools.unknown_message(tool))
            tool = found
        return await self.pipeline.call_direct(
            as_tool(tool),
            arguments,
            history=history,
            timeout=self.limits.tool_timeout,
            started=started,
            run_id=run_id,
            max_result_bytes=self.limits.tool_result_bytes,
        )

    def execute_sync(
        self,
        code: str,
        *,
        limits: Limits | None = None,
        on_output: Callable[[OutputChunk], Any] | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
        call_id: str | None = None,
    ) -> ExecutionResult:
        """`execute` for code that has no event loop (runs on a private loop thread, where
        `on_output` and `on_event` are called too)."""
        refuse_inside_loop("execute_sync()", "await codeact.execute(...)")
        instance_or_none("limits", limits, Limits)  # here, not on the loop thread
        run = self.execute(
            code, limits=limits, on_output=on_output, on_event=on_event, call_id=call_id
        )
        return result_or_interrupted(self, self._sync.get().submit(run))

    def interrupt(self) -> None:
        """Stop every execution of this CodeAct that runs now, as Ctrl-C does: each returns
        its result, with what the program printed, and ``error.type == "KeyboardInterrupt"``.
        Safe to call from any thread."""
        for supervisor, loop in list(self._running):
            if not loop.is_closed():
                loop.call_soon_threadsafe(supervisor.interrupt)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the private loop of `execute_sync` (a CodeAct that is collected stops it too).
        Shared backends stay up for the process."""
        self._sync.close()

    def __repr__(self) -> str:
        grants = ""
        if self._mounts or self._workspace:
            grants += f", file_mounts={list(self._granted_mounts())!r}"
        if self._domains:
            grants += f", allowed_domains={list(self._domains)!r}"
        if self.packages is not None:
            grants += f", packages={self.packages.versions()!r}"
        return (
            f"CodeAct(tools=[{self._tools.describe_names()}], limits={self.limits!r}, "
            f"backend={self.backend.name!r}{grants})"
        )
