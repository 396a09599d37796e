"""`CodeAct`: tools, limits and a sandbox backend, and the `execute_code` tool built from them."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from typing_extensions import Self

from ..bridge.approvals import (
    APPROVAL_SCOPES,
    DEFAULT_APPROVAL_TIMEOUT,
    ApprovalHandler,
    ApprovalScope,
    approve_block,
    block_needs_approval,
)
from ..bridge.audit import AuditSink, Redactor
from ..bridge.calls import ProgramContext
from ..bridge.host import HostBridge
from ..bridge.middleware import Middleware, MiddlewareFn
from ..bridge.pipeline import DirectCallResult, ToolPipeline
from ..bridge.protocol import RunOutcome, RunRequest, Stop, ToolCallRecord, ToolStub
from ..bridge.scan import CallPlan, scan_tool_calls
from ..errors import ConfigurationError, UserError
from ..policy.limits import Limits
from ..sandbox.base import SandboxBackend
from ..sandbox.registry import create_backend, resolve_auto
from ..tools import Tool, ToolSet, as_tool
from ..tools.definition import ApprovalMode
from ._sync import LoopThread
from .execute_tool import ExecuteCodeTool
from .instructions import describe_execute_code, instructions
from .result import ExecutionResult

__all__ = ["CodeAct"]

_shared_backends: dict[str, SandboxBackend] = {}
_shared_lock = threading.Lock()


def _shared_backend(name: str) -> SandboxBackend:
    """One backend per name per process: warm pools and compiled guests are shared."""
    if name == "auto":
        name = resolve_auto()
    with _shared_lock:
        backend = _shared_backends.get(name)
        if backend is None:
            backend = _shared_backends[name] = create_backend(name)
        return backend


class _Supervisor:
    """Ends an execution whose backend cannot stop the program by itself (it is blocked in a
    host call that cannot be interrupted, e.g. a sync tool past its timeout): a timer on the
    event loop checks the bridge and cancels the waiting task, which reports the limit."""

    POLL = 0.25

    def __init__(self, bridge: HostBridge, loop: asyncio.AbstractEventLoop) -> None:
        self._bridge = bridge
        self._loop = loop
        self._task = asyncio.current_task()
        self.stop: Stop | None = None
        self._timer: asyncio.TimerHandle | None = loop.call_later(self._interval(), self._check)

    def _interval(self) -> float:
        # Poll at least every POLL seconds: an inline tool call may start at any moment, and
        # telling the loop about each one would cost a cross-thread wake-up per call.
        return min(self._bridge.next_check(), self.POLL)

    def _check(self) -> None:
        stop = self._bridge.overdue()
        if stop is None:
            self._timer = self._loop.call_later(self._interval(), self._check)
            return
        self._timer = None
        self.stop = stop
        self._bridge.cancel()
        if self._task is not None:
            self._task.cancel()

    def consume_cancel(self) -> None:
        """Our own cancellation was handled: take it back, so that an enclosing
        asyncio.timeout() or TaskGroup does not see a cancellation that is not theirs."""
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class CodeAct:
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
    """

    def __init__(
        self,
        *,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        limits: Limits | None = None,
        backend: str | SandboxBackend = "auto",
        approval_handler: ApprovalHandler | None = None,
        approval_mode: ApprovalMode = "never_require",
        approval_scope: ApprovalScope = "call",
        approval_timeout: float | None = DEFAULT_APPROVAL_TIMEOUT,
        middleware: Iterable[Middleware | MiddlewareFn] = (),
        redact: Redactor | Iterable[str] | None = None,
        audit: AuditSink | None = None,
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
        self._tools = ToolSet(tools)
        self.limits = limits or Limits()
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
            self.backend = _shared_backend(backend)
        else:
            raise ConfigurationError(
                f"backend must be a name or a SandboxBackend, got {type(backend).__name__}"
            )
        self._sync: LoopThread | None = None

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
    def tool_description(self) -> str:
        """The description of the `execute_code` tool (lists every tool as a Python stub)."""
        return describe_execute_code(list(self._tools))

    def build_instructions(self) -> str:
        """The system-prompt fragment that tells the model how to use `execute_code`."""
        return instructions(list(self._tools))

    def execute_code_tool(self, *, name: str = "execute_code") -> ExecuteCodeTool:
        """The `execute_code` tool: name, description, JSON schema and an async callable."""
        return ExecuteCodeTool(self, name=name)

    # -- running -----------------------------------------------------------------------------
    def prepare(self) -> None:
        """Build/compile the sandbox and warm its pool now instead of on the first call."""
        self.backend.prepare()

    async def execute(self, code: str, *, limits: Limits | None = None) -> ExecutionResult:
        """Run `code` in a fresh sandbox and return what happened (never raises for the
        program's own errors: those are in the result)."""
        if not isinstance(code, str):
            raise UserError(f"code must be a str, got {type(code).__name__}")
        limits = limits or self.limits
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        tools = self._tools.copy()
        program = ProgramContext(code, run_id=uuid.uuid4().hex[:12])
        approval = await self._approve_block(code, tools, program)
        if approval is not None and approval.outcome == "denied":
            return ExecutionResult.not_approved(
                approval, {"total_ms": (time.perf_counter() - started) * 1000}
            )
        bridge = HostBridge(tools, limits, loop, pipeline=self.pipeline, program=program)
        request = RunRequest(
            code=code,
            tools=tuple(ToolStub(t.name, t.positional_params) for t in tools),
            limits=limits,
        )
        supervisor = _Supervisor(bridge, loop)
        try:
            outcome = await self.backend.run(request, bridge)
        except asyncio.CancelledError:
            if supervisor.stop is None:
                raise  # cancelled by our caller, not by the supervisor
            supervisor.consume_cancel()
            outcome = RunOutcome(stop=supervisor.stop)
        finally:
            supervisor.close()
            bridge.cancel()
            bridge.finish()
        # Output reached the host through the bridge as the program ran (so it survives a
        # stop); a backend may also report some at the end.
        outcome.stdout = bridge.output.stdout + outcome.stdout
        outcome.stderr = bridge.output.stderr + outcome.stderr
        outcome.output_dropped += bridge.output.dropped
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
            memory_mb=limits.memory_mb,
            approval=approval,
        )

    async def _approve_block(
        self, code: str, tools: ToolSet, program: ProgramContext
    ) -> ToolCallRecord | None:
        """Ask about the whole block first, when the scope says so; the record of the answer."""
        gated = [t.name for t in tools if t.approval_mode == "always_require"]
        if not gated and self.approval_mode != "always_require":
            return None
        plan = scan_tool_calls(code, tools.names(), gated=gated)
        if not block_needs_approval(
            scope=self.approval_scope,
            always=self.approval_mode == "always_require",
            gated_tools=bool(gated),
            plan=plan,
        ):
            return None
        _, record = await approve_block(
            self.pipeline.approver,
            code=code,
            plan=plan,
            scope=self.approval_scope,
            program=program,
        )
        self.pipeline.emit(record)
        return record

    def scan(self, code: str) -> CallPlan:
        """The tools `code` may call, how often and where (a static scan; nothing runs)."""
        gated = [t.name for t in self._tools if t.approval_mode == "always_require"]
        return scan_tool_calls(code, self._tools.names(), gated=gated)

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
                raise UserError(
                    f"there is no tool named {tool!r}; the tools are: "
                    f"{self._tools.describe_names()}"
                )
            tool = found
        return await self.pipeline.call_direct(
            as_tool(tool),
            arguments,
            history=history,
            timeout=self.limits.tool_timeout,
            started=started,
            run_id=run_id,
        )

    def execute_sync(self, code: str, *, limits: Limits | None = None) -> ExecutionResult:
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
        return self._sync.run(self.execute(code, limits=limits))

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the private loop of `execute_sync`. Shared backends stay up for the process."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"CodeAct(tools=[{self._tools.describe_names()}], limits={self.limits!r}, "
            f"backend={self.backend.name!r})"
        )
