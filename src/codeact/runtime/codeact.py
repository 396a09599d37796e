"""`CodeAct`: tools, limits and a sandbox backend, and the `execute_code` tool built from them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from typing_extensions import Self

from ..bridge.host import HostBridge
from ..bridge.protocol import RunOutcome, RunRequest, Stop, ToolStub
from ..errors import ConfigurationError, UserError
from ..policy.limits import Limits
from ..sandbox.base import SandboxBackend
from ..sandbox.registry import create_backend, resolve_auto
from ..tools import Tool, ToolSet
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
    """

    def __init__(
        self,
        *,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        limits: Limits | None = None,
        backend: str | SandboxBackend = "auto",
    ) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise ConfigurationError(
                f"limits must be a codeact.Limits, got {type(limits).__name__}"
            )
        self._tools = ToolSet(tools)
        self.limits = limits or Limits()
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
        bridge = HostBridge(tools, limits, loop)
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
        # Output reached the host through the bridge as the program ran (so it survives a
        # stop); a backend may also report some at the end.
        outcome.stdout = bridge.output.stdout + outcome.stdout
        outcome.stderr = bridge.output.stderr + outcome.stderr
        outcome.output_dropped += bridge.output.dropped
        timings = dict(outcome.timings)
        timings["tools_ms"] = sum(r.duration_ms for r in bridge.records)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return ExecutionResult.from_outcome(
            outcome, list(bridge.records), timings, memory_mb=limits.memory_mb
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
