"""What serve-mcp tells a client while a program runs, and the trace it continues.

Progress: when the client asked for progress (a ``progressToken`` in the request), each piece
of output and each tool call becomes a ``notifications/progress`` message, in order, while
the program runs (the count of events so far is the progress; there is no total).

Traces: a client that sends W3C trace context in the request's ``_meta`` (``traceparent``,
``tracestate``) gets the execution's span as a child of its own, when the server uses
OpenTelemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from ...runtime.events import ExecutionEvent, OutputChunk, ToolCallEnded, ToolCallStarted

__all__ = ["ProgressReporter", "continued_trace"]

_MESSAGE_CHARS = 2000


class ProgressReporter:
    """Sends a program's events to the client as progress notifications, one at a time."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._sent = 0
        self._task = asyncio.ensure_future(self._send())

    def __call__(self, event: ExecutionEvent) -> None:
        message = _message(event)
        if message is not None:
            self._queue.put_nowait(message)

    async def _send(self) -> None:
        while (message := await self._queue.get()) is not None:
            self._sent += 1
            try:
                await self._ctx.report_progress(self._sent, None, message)
            except Exception:  # the client went away: the program's result still counts
                return

    async def close(self) -> None:
        """Send what is queued, then stop."""
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, 5)


def _message(event: ExecutionEvent) -> str | None:
    if isinstance(event, OutputChunk):
        text = event.text
        if len(text) > _MESSAGE_CHARS:
            text = text[:_MESSAGE_CHARS] + f"... [{len(event.text) - _MESSAGE_CHARS} more]"
        return text if event.stream == "stdout" else f"[stderr] {text}"
    if isinstance(event, ToolCallStarted):
        return f"calling {event.name}()"
    if isinstance(event, ToolCallEnded):
        record = event.record
        return f"{record.name}() {record.outcome} in {record.duration_ms:.0f} ms"
    return None


@contextlib.contextmanager
def continued_trace(ctx: Any) -> Iterator[None]:
    """Make the client's trace (from the request's ``_meta``) current, if it sent one and
    this process uses OpenTelemetry."""
    carrier = _trace_carrier(ctx)
    if not carrier or "opentelemetry.trace" not in sys.modules:
        yield
        return
    from opentelemetry import context, propagate

    token = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)


def _trace_carrier(ctx: Any) -> dict[str, str]:
    try:
        meta = ctx.request_context.meta
    except Exception:
        return {}
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        meta = getattr(meta, "model_extra", None) or getattr(meta, "__dict__", {})
    return {
        key: value
        for key in ("traceparent", "tracestate")
        if isinstance(value := meta.get(key), str)
    }
