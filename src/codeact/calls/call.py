"""A tool call on its way through the middleware pipeline, and the program it belongs to.

`ToolInvocation` is what every middleware sees: the tool, the arguments, where the call came from
("code": a program's `call_tool`; "direct": the agent calling a tool itself), the program's
code and the calls made so far, and the decision fields that end up in the audit record.
`CallDenied` is how a middleware says no.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import inspect
import threading
import types
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..bridge.protocol import CallDecision, CallOrigin, ExecutionStopped, ToolCallRecord
from ..policy.limits import Limits
from ..sandbox.threads import DaemonThreadPool
from ..tools import Tool
from .received import as_received

__all__ = [
    "CallDenied",
    "CallWatcher",
    "ProgramContext",
    "ToolInvocation",
    "ToolRaised",
    "ToolTimeout",
    "as_exception",
    "awaited",
    "describe_exception",
    "run_tool",
    "task_cancelling",
]

_MESSAGE_CHARS = 4000  # the most of an exception's text a call's error carries
#: Seconds between looks for a free approval slot (only while `Limits.approval_denials`
#: requests are refused or open).
_APPROVAL_SLOT_POLL = 0.01


class CallDenied(Exception):
    """Raised by a middleware (or the approval gate) to deny a call: the tool does not run.

    A program gets a catchable ``ToolDenied`` carrying `reason`; the audit records the call as
    denied, decided by `by` (the middleware's name when not given).
    """

    def __init__(self, reason: str, *, by: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.by = by


class ToolTimeout(Exception):
    """A tool took longer than its timeout (the bridge turns this into a stopped program)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"took longer than its timeout ({seconds:g}s)")
        self.seconds = seconds


class CallWatcher(Protocol):
    """Told about the calls of one program as they happen (traces and live events use it).

    Called on whatever thread the call runs on; implementations must be quick and thread-safe
    and must not raise.
    """

    def call_started(self, record: ToolCallRecord) -> None: ...

    def call_ended(self, record: ToolCallRecord, result: str | None) -> None: ...

    def approval_waited(
        self, tool: str | None, started_ns: int, ended_ns: int, approved: bool, by: str
    ) -> None: ...


class ToolRaised(Exception):
    """A tool or middleware raised a `BaseException` that is not an `Exception`: SystemExit,
    KeyboardInterrupt, GeneratorExit, a CancelledError of its own. It is carried as a plain
    exception so that it fails the call, never the host's event loop, thread or `execute()`.
    (Only its description is kept: its traceback would keep the tool's frames alive.)"""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(describe_exception(exc))
        self.type_name = type(exc).__name__


def as_exception(exc: BaseException) -> Exception:
    """`exc` if it is an `Exception`, else a `ToolRaised` describing it."""
    return exc if isinstance(exc, Exception) else ToolRaised(exc)


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` of any exception, even one whose ``__str__`` fails or never ends in
    reasonable size (the text is cut)."""
    if isinstance(exc, ToolRaised):
        return str(exc.args[0]) if exc.args else exc.type_name
    name = type(exc).__name__
    try:
        text = str(exc)
    except BaseException:  # a hostile __str__ may raise anything
        text = "(its message could not be read)"
    if not isinstance(text, str):
        text = ""
    if len(text) > _MESSAGE_CHARS:
        text = f"{text[:_MESSAGE_CHARS]}…[{len(text) - _MESSAGE_CHARS} more chars]"
    return f"{name}: {text}" if text else name


def task_cancelling() -> bool:
    """Whether the running task is being cancelled (not merely seeing a CancelledError that
    some code raised by itself). Before Python 3.11 it cannot tell: every one counts."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return True if cancelling is None else bool(cancelling())


class ProgramContext:
    """What the middlewares of nested calls know about the running program.

    `code` is the program, `calls` the records of its calls so far (shared with the bridge),
    `run_id` the id in every record. Up-front approvals leave grants here: a number of calls
    per tool (None: any number) that run without asking again.
    """

    def __init__(self, code: str, *, run_id: str | None = None) -> None:
        self.code = code
        self.run_id = run_id
        self.calls: list[ToolCallRecord] = []
        self._grants: dict[str, int | None] = {}
        self._grant_all = False
        self._lock = threading.Lock()
        self._on_wait: Callable[[bool], None] | None = None
        self._settled: set[int] = set()  # ids of the records already settled and audited
        #: Told about each call as it starts and ends (None: nobody is watching).
        self.watcher: CallWatcher | None = None
        self._approval_limits: Limits | None = None  # set by the bridge: this run's limits
        self._approval_stop: Callable[[float | None], ExecutionStopped] | None = None
        self._approvals_refused = 0
        self._approvals_open = 0  # requests asked and not answered yet
        self._approval_waited = 0.0

    def limit_approvals(
        self, limits: Limits, stop: Callable[[float | None], ExecutionStopped]
    ) -> None:
        """Cap the approval requests of this program that may end unapproved
        (`Limits.approval_denials`) and their total wait (`Limits.approval_wait`); past either,
        `stop(seconds waited, or None when the count ran out)` is raised."""
        self._approval_limits = limits
        self._approval_stop = stop

    async def approval_starts(self) -> float | None:
        """Before one approval request: the seconds it may still wait (None: no cap), or the
        program is stopped (`ExecutionStopped`) because it asked too often or waited too long.

        Requests in flight count as if they will be refused: with `Limits.approval_denials`
        requests refused or still open, the next waits for one to end (calls started together
        with ``asyncio.gather`` would otherwise all be asked before any answer came back)."""
        limits, stop = self._approval_limits, self._approval_stop
        if limits is None or stop is None:
            with self._lock:
                self._approvals_open += 1
            return None
        while True:
            with self._lock:
                refused, waited = self._approvals_refused, self._approval_waited
                if refused >= limits.approval_denials:
                    raise stop(None)
                left = limits.approval_wait - waited
                if left <= 0:
                    raise stop(waited)
                if refused + self._approvals_open < limits.approval_denials:
                    self._approvals_open += 1
                    return left
            await asyncio.sleep(_APPROVAL_SLOT_POLL)

    def approval_ended(self, seconds: float, *, approved: bool) -> None:
        """After one approval request (`approval_starts`): `seconds` waited count against
        `Limits.approval_wait`, and one not approved against `Limits.approval_denials`."""
        with self._lock:
            self._approvals_open -= 1
            self._approval_waited += seconds
            if not approved:
                self._approvals_refused += 1

    def approval_overdue(self) -> ExecutionStopped | None:
        """The stop to raise if the total approval wait is used up (None while it is not)."""
        limits, stop = self._approval_limits, self._approval_stop
        if limits is None or stop is None or self._approval_waited < limits.approval_wait:
            return None
        return stop(self._approval_waited)

    def unsettled(self, records: list[ToolCallRecord]) -> list[ToolCallRecord]:
        """Those of `records` not settled yet (calls still in flight)."""
        with self._lock:
            return [r for r in records if id(r) not in self._settled]

    def settle_once(self, record: ToolCallRecord) -> bool:
        """True the first time it is asked about `record`: a call is settled and audited once,
        even when a limit ends it on one thread while it finishes on another."""
        with self._lock:
            if id(record) in self._settled:
                return False
            self._settled.add(id(record))
            return True

    def grant(self, grants: Mapping[str, int | None], *, every_call: bool = False) -> None:
        """Pre-approve calls: ``{"send_email": 2}``; `every_call` pre-approves every gated call."""
        with self._lock:
            self._grant_all = self._grant_all or every_call
            for name, count in grants.items():
                if count is None or self._grants.get(name, 0) is None:
                    self._grants[name] = None
                else:
                    self._grants[name] = int(self._grants.get(name) or 0) + int(count)

    def take_grant(self, name: str) -> bool:
        """Use up one pre-approved call of `name`, if one is left."""
        with self._lock:
            if self._grant_all:
                return True
            if name not in self._grants:
                return False
            left = self._grants[name]
            if left is None:
                return True
            if left <= 0:
                return False
            self._grants[name] = left - 1
            return True

    def bind_clock(self, on_wait: Callable[[bool], None]) -> None:
        """The bridge's hook: called with True when a person starts deciding, False when done."""
        self._on_wait = on_wait

    @contextlib.contextmanager
    def person_deciding(self) -> Iterator[None]:
        """Around a wait for a person: the program's wall-time clock stops while it blocks."""
        hook = self._on_wait
        if hook is not None:
            hook(True)
        try:
            yield
        finally:
            if hook is not None:
                hook(False)


@dataclass(eq=False, slots=True)
class ToolInvocation:
    """One tool call on its way through the middleware chain.

    `arguments` are the arguments as the tool receives them, validated, in JSON values, for
    the keys the caller sent (read-only; use `replace_arguments`): ``"false"`` sent for a
    `bool` reads ``False`` here, as the tool gets it (`codeact.calls.received`).
    The decision fields (`decision`, `handler`, `reason`, `approval_ms`) end up in the audit
    record; `metadata` is free for middlewares to share state about this call.
    """

    tool: Tool
    arguments: Mapping[str, Any]
    origin: CallOrigin
    record: ToolCallRecord
    kwargs: dict[str, Any]  # the validated keyword arguments the tool is called with
    program: ProgramContext | None = None
    history: Sequence[ToolCallRecord] = ()
    decision: CallDecision = "not_required"
    handler: str | None = None
    reason: str | None = None
    approval_ms: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    opened: float = 0.0  # when the call began, on `time.monotonic()`'s clock

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def code(self) -> str | None:
        """The program making the call (None for a direct call)."""
        return self.program.code if self.program is not None else None

    @property
    def calls_so_far(self) -> tuple[ToolCallRecord, ...]:
        """Records of the calls made before this one (by the program, or the agent's run)."""
        if self.program is None:
            return tuple(self.history)
        before = []
        for record in list(self.program.calls):
            if record is self.record:
                break
            before.append(record)
        return tuple(before)

    def replace_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Call the tool with other arguments (validated now; invalid ones fail the call)."""
        self.kwargs = self.tool.validate(arguments)
        self.arguments = types.MappingProxyType(as_received(dict(arguments), self.kwargs))

    def decide(
        self,
        decision: CallDecision,
        *,
        handler: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.decision = decision
        self.handler = handler
        self.reason = reason


async def run_tool(
    tool: Tool,
    kwargs: dict[str, Any],
    timeout: float,
    *,
    threads: concurrent.futures.Executor | None = None,
) -> Any:
    """Run a tool on the event loop (a sync one on `threads`, codeact's own pool: never the
    loop's default executor, which belongs to the application); `ToolTimeout` if too slow.
    Whatever the tool raises arrives as an `Exception` (see `ToolRaised`)."""
    coro = _guarded(tool.fn, kwargs) if tool.is_async else _in_thread(tool, kwargs, threads)
    task: asyncio.Future[Any] = asyncio.ensure_future(coro)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise ToolTimeout(timeout)
    return task.result()


async def _guarded(fn: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
    """Await an async tool; a `BaseException` it raises (other than this task's own
    cancellation) becomes `ToolRaised` here, before asyncio's Task sees it: a Task re-raises
    SystemExit and KeyboardInterrupt into the event loop, which ends the application."""
    try:
        return await fn(**kwargs)
    except Exception:
        raise
    except asyncio.CancelledError as exc:
        if task_cancelling():
            raise
        raise ToolRaised(exc) from None
    except BaseException as exc:  # see the docstring
        raise ToolRaised(exc) from None


async def awaited(awaitable: Awaitable[Any]) -> Any:
    """Await what a sync-looking callable returned, guarded as an async tool is (`_guarded`)."""
    return await _guarded(lambda: awaitable, {})


def _call_catching(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Call a sync tool in a worker thread; what it raises arrives as an `Exception` (a
    StopIteration could not even cross into an asyncio future: the call would never end)."""
    try:
        return fn(**kwargs)
    except Exception as exc:
        if isinstance(exc, StopIteration):
            raise ToolRaised(exc) from None
        raise
    except BaseException as exc:  # see the docstring
        raise ToolRaised(exc) from None


async def _in_thread(
    tool: Tool, kwargs: dict[str, Any], threads: concurrent.futures.Executor | None
) -> Any:
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    if threads is None:
        threads = default_tool_threads()
    result = await loop.run_in_executor(threads, context.run, _call_catching, tool.fn, kwargs)
    if inspect.isawaitable(result):  # a sync-looking callable that returned a coroutine
        result = await awaited(result)
    return result


_default_threads: concurrent.futures.Executor | None = None
_default_lock = threading.Lock()


def default_tool_threads() -> concurrent.futures.Executor:
    """The process's pool for sync tools called without an execution's own (direct calls):
    codeact's, never the event loop's default executor. It starts a thread whenever none is
    idle, so a tool stuck past its timeout never delays another call."""
    global _default_threads
    with _default_lock:
        if _default_threads is None:
            _default_threads = DaemonThreadPool("codeact-tool")
        return _default_threads
