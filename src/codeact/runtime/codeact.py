"""`CodeAct`: tools, limits and a sandbox backend, and the `execute_code` tool built from them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from .._lifecycle import Closeable
from ..bridge.host import HostBridge
from ..bridge.http_egress import HttpEgress
from ..bridge.protocol import (
    ExecutionStopped,
    GuestError,
    RunOutcome,
    RunRequest,
    Stop,
    ToolCallRecord,
    ToolStub,
)
from ..calls.approvals import (
    APPROVAL_SCOPES,
    DEFAULT_APPROVAL_TIMEOUT,
    ApprovalHandler,
    ApprovalScope,
)
from ..calls.audit import AuditSink, Redactor
from ..calls.call import ProgramContext, describe_exception
from ..calls.middleware import Middleware, MiddlewareFn
from ..calls.pipeline import DirectCallResult, ToolPipeline, ask_block_if_needed
from ..calls.scan import CallPlan, scan_program
from ..errors import ConfigurationError, UserError
from ..policy.limits import Limits
from ..policy.mounts import Mount, MountInput, workspace_mount
from ..policy.network import AllowedDomain, DomainInput, NetworkLimits
from ..policy.outputs import OutputLimits
from ..sandbox.base import SandboxBackend
from ..sandbox.registry import shared_backend
from ..tools import Tool, ToolSet, as_tool
from ..tools.definition import ApprovalMode
from ._sync import LoopThread
from .events import EventSink, ExecutionEvent, OutputChunk
from .execute_tool import ExecuteCodeTool
from .grants import Grants, collection
from .instructions import describe_execute_code, describe_grants, instructions
from .result import ExecutionResult
from .supervisor import Supervisor
from .tracing import ExecutionTrace, capture_content_default, meter_for, tracer_for
from .watch import ExecutionWatch

__all__ = ["CodeAct"]

_log = logging.getLogger("codeact")


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
    ) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise ConfigurationError(
                f"limits must be a codeact.Limits, got {type(limits).__name__}"
            )
        if approval_mode not in ("never_require", "always_require"):
            raise ConfigurationError(
                f"approval_mode must be 'never_require' or 'always_require', got {approval_mode!r}"
            )
        if approval_scope not in APPROVAL_SCOPES:
            raise ConfigurationError(
                f"approval_scope must be one of {', '.join(APPROVAL_SCOPES)}, "
                f"got {approval_scope!r}"
            )
        for name, value, kind in (
            ("output_limits", output_limits, OutputLimits),
            ("network_limits", network_limits, NetworkLimits),
        ):
            if value is not None and not isinstance(value, kind):
                raise ConfigurationError(
                    f"{name} must be a codeact.{kind.__name__}, got {type(value).__name__}"
                )
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
        if isinstance(backend, SandboxBackend):
            self.backend = backend
        elif isinstance(backend, str):
            self.backend = shared_backend(backend)
        else:
            raise ConfigurationError(
                f"backend must be a name or a SandboxBackend, got {type(backend).__name__}"
            )
        self._sync: LoopThread | None = None
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._capture_content = capture_content

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
        return describe_grants(self._granted_mounts(), self._domains, self.output_limits)

    def tool_description(self) -> str:
        """The description of the `execute_code` tool: every tool as a typed signature, and the
        files and domains the program may use."""
        return describe_execute_code(list(self._tools), grants=self._grant_lines())

    def build_instructions(self) -> str:
        """The system-prompt fragment that tells the model how to use `execute_code`."""
        granted = bool(self._mounts or self._workspace or self._domains)
        return instructions(list(self._tools), grants=self._grant_lines() if granted else ())

    def execute_code_tool(self, *, name: str = "execute_code") -> ExecuteCodeTool:
        """The `execute_code` tool: name, description, JSON schema and an async callable."""
        return ExecuteCodeTool(self, name=name)

    # -- running -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Build/compile the sandbox and warm its pool now instead of on the first call."""
        self.backend.prepare()

    async def execute(
        self,
        code: str,
        *,
        limits: Limits | None = None,
        on_output: Callable[[OutputChunk], Any] | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
    ) -> ExecutionResult:
        """Run `code` in a fresh sandbox and return what happened (never raises for the
        program's own errors: those are in the result).

        `on_output` is called with each `OutputChunk` the program writes, as it writes it;
        `on_event` with every event (output, tool calls starting and ending, and last the
        `ExecutionFinished`); both on this event loop, in order (see `stream`). With
        OpenTelemetry in use, the execution is a span (see `codeact.runtime.tracing`).
        """
        if not isinstance(code, str):
            raise UserError(f"code must be a str, got {type(code).__name__}")
        limits = limits or self.limits
        watch = self._watch(code, limits, on_output, on_event)
        if watch is None:
            return await self._execute(code, limits, None)
        trace = watch.trace
        if trace is not None:
            trace.attach()  # current while the program runs: tools' own spans nest under it
        result: ExecutionResult | None = None
        failure: BaseException | None = None
        try:
            result = await self._execute(code, limits, watch)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if trace is not None:
                trace.detach()
                trace.finish(result, failure)
        if watch.sink is not None:
            await asyncio.sleep(0)  # deliver what the sandbox's threads posted before the end
            watch.sink.finished(result)
        return result

    async def stream(
        self, code: str, *, limits: Limits | None = None
    ) -> AsyncIterator[ExecutionEvent]:
        """Run `code` and yield what happens as it happens: `OutputChunk`, `ToolCallStarted`,
        `ToolCallEnded`, and last `ExecutionFinished` with the result::

            async for event in codeact.stream(code):
                if isinstance(event, OutputChunk):
                    print(event.text, end="")

        Leaving the loop early stops the program.
        """
        queue: asyncio.Queue[ExecutionEvent | None] = asyncio.Queue()

        async def run() -> None:
            try:
                await self.execute(code, limits=limits, on_event=queue.put_nowait)
            finally:
                queue.put_nowait(None)

        task = asyncio.ensure_future(run())
        try:
            while True:
                event = await queue.get()
                if event is None:
                    task.result()  # the error execute() raised, if it did
                    return
                yield event
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _watch(
        self,
        code: str,
        limits: Limits,
        on_output: Callable[[OutputChunk], Any] | None,
        on_event: Callable[[ExecutionEvent], Any] | None,
    ) -> ExecutionWatch | None:
        """Who watches this execution: its trace and listeners (None: nobody, no cost)."""
        tracer = tracer_for(self._tracer_provider)
        sink = None
        if on_output is not None or on_event is not None:
            loop = asyncio.get_running_loop()
            sink = EventSink(loop, on_output=on_output, on_event=on_event)
        if tracer is None and sink is None:
            return None
        trace = None
        if tracer is not None:
            capture = self._capture_content
            trace = ExecutionTrace(
                tracer,
                meter_for(self._meter_provider),
                call_id=uuid.uuid4().hex[:16],
                backend=self.backend.name,
                limits=limits,
                code=code,
                capture_content=capture_content_default() if capture is None else capture,
            )
        return ExecutionWatch(trace, sink)

    async def _execute(
        self, code: str, limits: Limits, watch: ExecutionWatch | None
    ) -> ExecutionResult:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        tools = self._tools.copy()
        program = ProgramContext(code, run_id=uuid.uuid4().hex[:12])
        program.watcher = watch
        approval = await ask_block_if_needed(
            self.pipeline,
            code=code,
            tools=tools,
            program=program,
            mode=self.approval_mode,
            scope=self.approval_scope,
        )
        if approval is not None and approval.outcome == "denied":
            return ExecutionResult.not_approved(
                approval, {"total_ms": (time.perf_counter() - started) * 1000}
            )
        egress = HttpEgress(self._domains, self.network_limits)
        bridge = HostBridge(
            tools, limits, loop, pipeline=self.pipeline, program=program, egress=egress
        )
        if watch is not None and watch.sink is not None:
            bridge.output.listener = watch.output
        request = RunRequest(
            code=code,
            tools=tuple(ToolStub(t.name, t.positional_params) for t in tools),
            limits=limits,
            mounts=self._granted_mounts(),
            output_limits=self.output_limits,
        )
        supervisor = Supervisor(bridge, loop)
        try:
            outcome = await self.backend.run(request, bridge)
        except asyncio.CancelledError:
            if supervisor.stop is None:
                raise  # cancelled by our caller, not by the supervisor
            supervisor.consume_cancel()
            outcome = RunOutcome(stop=supervisor.stop)
        except ExecutionStopped as exc:  # a limit that surfaced through the backend
            outcome = RunOutcome(stop=Stop(exc.limit, exc.message))
        except Exception as exc:  # the backend failed: a failed result, never a raise
            _log.warning("codeact: the %s backend failed", self.backend.name, exc_info=True)
            message = f"the sandbox failed: {describe_exception(exc)}"
            outcome = RunOutcome(error=GuestError("SandboxError", message))
        finally:
            supervisor.close()
            bridge.cancel()
            egress.cancel()
            bridge.finish()
        timings = dict(outcome.timings)
        # Time spent waiting for approvals is not time spent in tools: it has its own entry.
        waited = sum(r.approval_ms for r in bridge.records)
        timings["tools_ms"] = sum(r.duration_ms for r in bridge.records) - waited
        timings["approval_ms"] = waited + (approval.approval_ms if approval is not None else 0.0)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return ExecutionResult.from_outcome(
            outcome,
            list(bridge.records),
            timings,
            output=bridge.output,
            memory_mb=limits.memory_mb,
            http_requests=list(egress.records),
            approval=approval,
        )

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
    ) -> ExecutionResult:
        """`execute` for code that has no event loop (runs on a private loop thread)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise UserError(
                "execute_sync() was called inside a running event loop; "
                "use `await codeact.execute(...)` there"
            )
        if self._sync is None:
            self._sync = LoopThread()
        return self._sync.run(self.execute(code, limits=limits, on_output=on_output))

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the private loop of `execute_sync`. Shared backends stay up for the process."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def __repr__(self) -> str:
        grants = ""
        if self._mounts or self._workspace:
            grants += f", file_mounts={list(self._granted_mounts())!r}"
        if self._domains:
            grants += f", allowed_domains={list(self._domains)!r}"
        return (
            f"CodeAct(tools=[{self._tools.describe_names()}], limits={self.limits!r}, "
            f"backend={self.backend.name!r}{grants})"
        )
