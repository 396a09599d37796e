"""A tool call on its way through the middleware pipeline (the program it belongs to is
`codeact.calls.program_context`, re-exported here).

`ToolInvocation` is what every middleware sees: the tool, the arguments, where the call came from
("code": a program's `call_tool`; "direct": the agent calling a tool itself), the program's
code and the calls made so far, and the decision fields that end up in the audit record.
`CallDenied` is how a middleware says no.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import logging
import threading
import traceback
import types
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..bridge.protocol import CallDecision, CallOrigin, ToolCallRecord
from ..sandbox.threads import DaemonThreadPool
from ..tools import Tool
from .program_context import CallWatcher, ProgramContext
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
    "log_tool_failure",
    "run_tool",
    "task_cancelling",
]

_MESSAGE_CHARS = 4000  # the most of an exception's text a call's error carries


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


#: A tool's exception, with its traceback on the host, at DEBUG (unredacted: the developer's).
_tool_log = logging.getLogger("codeact.tools")


def log_tool_failure(name: str, exc: BaseException) -> None:
    """Log what tool `name` raised, with its traceback on the host, at DEBUG on the logger
    ``codeact.tools`` (the program and the model see only ``Type: message``)."""
    if _tool_log.isEnabledFor(logging.DEBUG):
        _tool_log.debug("%s() raised:\n%s", name, traceback_text(exc))


def traceback_text(exc: BaseException, *, chars: int = 20_000) -> str:
    """The traceback of `exc` as Python prints it (its last `chars` characters), or its
    description where it cannot be formatted."""
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except BaseException:  # a hostile __str__ may raise anything
        return describe_exception(exc)
    return text if len(text) <= chars else "…" + text[-chars:]


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` of any exception, even one whose ``__str__`` fails or never ends in
    reasonable size (the text is cut). A host's ``ToolError`` (FastMCP's, MCP's) is its
    message alone: the program receives it as a ToolError already."""
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
    if name == "ToolError" and text:
        return text
    return f"{name}: {text}" if text else name


def task_cancelling() -> bool:
    """Whether the running task is being cancelled (not merely seeing a CancelledError that
    some code raised by itself). Before Python 3.11 it cannot tell: every one counts."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return True if cancelling is None else bool(cancelling())


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
    #: When its tool was last started (`time.monotonic()`): its timeout counts from there.
    ran_at: float | None = None
    #: Told when `replace_arguments` changed the call (the pipeline records them anew).
    on_replaced: Callable[[ToolInvocation], None] | None = field(default=None, repr=False)

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
        if self.on_replaced is not None:  # the record shows what the tool runs with
            self.on_replaced(self)

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
    SystemExit and KeyboardInterrupt into the event loop, which ends the application.
    GeneratorExit goes on as it is: it is `close()` ending this coroutine (a tool that ignored
    its cancellation, its task dropped at exit), which must not raise anything else."""
    try:
        return await fn(**kwargs)
    except (Exception, GeneratorExit):
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
