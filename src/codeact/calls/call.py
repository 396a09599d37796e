"""A tool call on its way through the middleware pipeline, and the program it belongs to.

`ToolInvocation` is what every middleware sees: the tool, the arguments, where the call came from
("code": a program's `call_tool`; "direct": the agent calling a tool itself), the program's
code and the calls made so far, and the decision fields that end up in the audit record.
`CallDenied` is how a middleware says no.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..bridge.protocol import CallDecision, CallOrigin, ToolCallRecord
from ..tools import Tool

__all__ = [
    "CallDenied",
    "CallWatcher",
    "ProgramContext",
    "ToolInvocation",
    "ToolTimeout",
    "run_tool",
]


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

    `arguments` are the JSON arguments as sent (read-only; use `replace_arguments`).
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
        self.arguments = types.MappingProxyType(dict(arguments))

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


async def run_tool(tool: Tool, kwargs: dict[str, Any], timeout: float) -> Any:
    """Run a tool on the event loop (a sync one in a worker thread); `ToolTimeout` if too slow."""
    coro = tool.fn(**kwargs) if tool.is_async else _in_thread(tool, kwargs)
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


async def _in_thread(tool: Tool, kwargs: dict[str, Any]) -> Any:
    result = await asyncio.to_thread(tool.fn, **kwargs)
    if inspect.isawaitable(result):  # a sync-looking callable that returned a coroutine
        result = await result
    return result
