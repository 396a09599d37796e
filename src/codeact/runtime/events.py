"""What a running program does, as events: output as it is written, tool calls as they start
and end, and the result at the end.

`CodeAct.execute(code, on_output=...)` hands each `OutputChunk` to a callback;
`CodeAct.stream(code)` yields every event in order and ends with `ExecutionFinished`::

    async for event in codeact.stream(code):
        if isinstance(event, OutputChunk):
            print(event.text, end="")
        elif isinstance(event, ExecutionFinished):
            result = event.result

Events are delivered on the event loop that runs `execute`, in the order they happened. The
output in events is the output the result holds: the same output limit applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ..bridge.output import STDERR, STDOUT
from ..bridge.protocol import ToolCallRecord
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .result import ExecutionResult

__all__ = [
    "EventSink",
    "ExecutionEvent",
    "ExecutionFinished",
    "OutputChunk",
    "ToolCallEnded",
    "ToolCallStarted",
    "event_stream",
    "is_async_callable",
]


@dataclass(frozen=True)
class OutputChunk:
    """Text the program wrote (line by line, as the guest hands it over)."""

    stream: Literal["stdout", "stderr"]
    text: str


@dataclass(frozen=True)
class ToolCallStarted:
    """The program called a tool. `arguments` are redacted as in the call records."""

    name: str
    arguments: Any
    started_ms: float


@dataclass(frozen=True)
class ToolCallEnded:
    """A tool call ended; its record says how (outcome, duration, decision, error)."""

    record: ToolCallRecord


@dataclass(frozen=True)
class ExecutionFinished:
    """The program ended: the same result `execute` returns. Always the last event."""

    result: ExecutionResult


ExecutionEvent: TypeAlias = "OutputChunk | ToolCallStarted | ToolCallEnded | ExecutionFinished"

_log = logging.getLogger("codeact")

_STREAMS: dict[int, Literal["stdout", "stderr"]] = {STDOUT: "stdout", STDERR: "stderr"}


def is_async_callable(callback: object) -> bool:
    """Whether `callback` is an ``async def`` or an object whose ``__call__`` is one: called
    without being awaited, its body never runs."""
    if callback is None:
        return False
    call = getattr(type(callback), "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(call)


def refuse_async_callbacks(**callbacks: Callable[..., Any] | None) -> None:
    """Raise `ConfigurationError` for an ``async def`` (or an object whose ``__call__`` is
    one) given as `on_output` / `on_event`: they are called on the loop and not awaited, so
    its body would never run. A plain function, or `stream()`, is what fits."""
    for name, callback in callbacks.items():
        if is_async_callable(callback):
            raise ConfigurationError(
                f"{name} must be a plain function, not an async one (it is called, not "
                "awaited); to await something for each event, use `stream()`: `async for "
                "event in codeact.stream(code)`"
            )


class EventSink:
    """Moves events from the sandbox's threads onto the event loop, in order."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        on_output: Callable[[OutputChunk], Any] | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
    ) -> None:
        self._loop = loop
        self._on_output = on_output
        self._on_event = on_event
        self._failures = 0

    def output(self, stream: int, text: str) -> None:
        """A `CappedOutput` listener: called with the text the host kept."""
        self._post(OutputChunk(_STREAMS.get(stream, "stderr"), text))

    def call_started(self, record: ToolCallRecord) -> None:
        if self._on_event is not None:
            self._post(ToolCallStarted(record.name, record.arguments, record.started_ms))

    def call_ended(self, record: ToolCallRecord, result: str | None = None) -> None:
        if self._on_event is not None:
            self._post(ToolCallEnded(record))

    def _post(self, event: ExecutionEvent) -> None:
        try:
            self._loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            pass

    def _deliver(self, event: ExecutionEvent) -> None:
        if isinstance(event, OutputChunk) and self._on_output is not None:
            self._call(self._on_output, event)
        if self._on_event is not None:
            self._call(self._on_event, event)

    def finished(self, result: ExecutionResult) -> None:
        """The last event (called on the loop, after every earlier event was delivered)."""
        if self._on_event is not None:
            self._call(self._on_event, ExecutionFinished(result))

    def _call(self, callback: Callable[[Any], Any], event: ExecutionEvent) -> None:
        try:
            callback(event)
        except Exception:  # a failing listener must not fail the program or the host
            # Logged once per execution: a listener that fails on every line of a program
            # that prints a million lines must not print a million tracebacks.
            self._failures += 1
            if self._failures == 1:
                _log.warning(
                    "codeact: an output/event callback failed (later failures of this "
                    "execution are not logged)",
                    exc_info=True,
                )


async def event_stream(
    run: Callable[[Callable[[ExecutionEvent], Any]], Awaitable[Any]],
) -> AsyncIterator[ExecutionEvent]:
    """Start `run(on_event)` and yield each event it posts, as it posts it, until it ends (the
    error it raised, if it did, is raised here). Leaving the loop early cancels it."""
    queue: asyncio.Queue[ExecutionEvent | None] = asyncio.Queue()

    async def watched() -> None:
        try:
            await run(queue.put_nowait)
        finally:
            queue.put_nowait(None)

    task = asyncio.ensure_future(watched())
    try:
        while True:
            event = await queue.get()
            if event is None:
                task.result()  # the error run() raised, if it did
                return
            yield event
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
