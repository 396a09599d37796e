"""`HostBridge`: the host side of `call_tool` for one execution.

Every call a program makes arrives here as a name and JSON arguments. The bridge looks the
tool up, validates the arguments, runs the tool, converts its result to JSON, records the call,
and enforces the tool-call limit and the per-tool timeout. The sandbox never holds a tool:
only this object, on the host, can run one.

Where tools run:

* a sync tool called with `call_tool` runs right on the sandbox's thread (the program waits
  for it anyway; this keeps a round trip under 0.1 ms). Its timeout cannot preempt Python
  code, so the supervisor (`overdue`) ends the whole execution when it is exceeded;
* an async tool runs on the caller's event loop, where it was written to run;
* calls started with `call_tool_async` all run concurrently on the loop (sync ones in
  worker threads), and their timeouts cancel them.

A tool timeout, like every limit, stops the program.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import json
import queue
import threading
import time
from typing import Any

from ..policy.limits import Limits
from ..sandbox.output import CappedOutput
from ..tools import ResultConversionError, Tool, ToolArgumentsError, ToolSet
from .protocol import (
    Completion,
    ExecutionStopped,
    Reply,
    Stop,
    ToolCallRecord,
    error_reply,
    ok_reply,
)

__all__ = ["HostBridge"]

#: How long past a deadline the supervisor waits for the backend to stop by itself.
GRACE = 0.5
_WAKE = object()


class HostBridge:
    """Implements `ToolChannel` for one execution of one program."""

    def __init__(self, tools: ToolSet, limits: Limits, loop: asyncio.AbstractEventLoop) -> None:
        self.tools = tools
        self.limits = limits
        self.loop = loop
        self.records: list[ToolCallRecord] = []
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._deadline = self._t0 + limits.wall_time
        self._inline: tuple[ToolCallRecord, float] | None = None  # running inline, its deadline
        # Every call running on the loop, started or awaited, so that cancel() reaches it.
        self._inflight: set[concurrent.futures.Future[Any]] = set()
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._next_id = 1
        self._waiting = 0  # started calls not yet returned by wait()
        self._cancelled = False
        self.output = CappedOutput(limits.output_bytes)

    # -- ToolChannel -----------------------------------------------------------------------
    def begin(self) -> None:
        self._t0 = time.monotonic()
        self._deadline = self._t0 + self.limits.wall_time

    @property
    def deadline(self) -> float:
        return self._deadline

    def call(self, name: str, args_json: str) -> Reply:
        record = self._open(name, args_json)
        tool, kwargs, refusal = self._prepare(name, args_json, record)
        if tool is None:
            return refusal  # type: ignore[return-value]
        if not tool.is_async:
            return self._run_inline(tool, kwargs, record)
        return self._await(self._on_loop(self._invoke(tool, kwargs, record)), record)

    def start(self, name: str, args_json: str) -> int | Reply:
        record = self._open(name, args_json)
        tool, kwargs, refusal = self._prepare(name, args_json, record)
        if tool is None:
            return refusal  # type: ignore[return-value]
        with self._lock:
            call_id = self._next_id
            self._next_id += 1
            self._waiting += 1
        future = self._on_loop(self._invoke(tool, kwargs, record))
        future.add_done_callback(functools.partial(self._call_done, call_id))
        return call_id

    def wait(self, timeout: float | None) -> list[Completion]:
        if self._waiting == 0:
            return []
        try:
            first = self._done.get(timeout=timeout)
        except queue.Empty:
            return []
        items = [first]
        while True:
            try:
                items.append(self._done.get_nowait())
            except queue.Empty:
                break
        finished: list[Completion] = []
        for item in items:
            if item is _WAKE:
                continue
            call_id, future = item
            with self._lock:
                self._waiting -= 1
            finished.append((call_id, self._reply_of(future)))
        if self._cancelled:
            raise ExecutionStopped("wall_time", "the execution was cancelled by the host")
        return finished

    def pending(self) -> int:
        return self._waiting

    def write_output(self, stream: int, text: str) -> None:
        self.output.write(stream, text)

    def _call_done(self, call_id: int, future: concurrent.futures.Future[Reply]) -> None:
        self._done.put((call_id, future))

    def _on_loop(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Run `coro` on the caller's loop; cancel() will reach it while it runs."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        if self._cancelled:
            future.cancel()
        return future

    # -- supervision (called on the event loop by CodeAct) -----------------------------------
    def overdue(self) -> Stop | None:
        """A limit the backend could not enforce by itself, if it has run out."""
        now = time.monotonic()
        inline = self._inline
        if inline is not None and now > inline[1] + GRACE:
            return self._tool_timeout(inline[0])
        if now > self._deadline + GRACE:
            return Stop(
                "wall_time",
                "the program ran longer than its wall-time limit "
                f"({self.limits.describe('wall_time')}) and was stopped",
            )
        return None

    def next_check(self) -> float:
        """Seconds until `overdue` could next return something."""
        due = self._deadline + GRACE
        inline = self._inline
        if inline is not None:
            due = min(due, inline[1] + GRACE)
        return max(0.01, due - time.monotonic())

    def extend_deadline(self, seconds: float) -> None:
        """Move the deadline later (time spent waiting for a person does not count)."""
        self._deadline += seconds

    def cancel(self) -> None:
        """Stop everything still running for this execution and wake a waiting program."""
        self._cancelled = True
        for future in list(self._inflight):
            future.cancel()
        self._done.put(_WAKE)

    # -- helpers -----------------------------------------------------------------------------
    def _elapsed_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000

    def _open(self, name: str, args_json: str) -> ToolCallRecord:
        if self._cancelled:
            raise ExecutionStopped("wall_time", "the execution was cancelled by the host")
        try:
            arguments: Any = json.loads(args_json)
        except ValueError:
            arguments = args_json
        record = ToolCallRecord(name=name, arguments=arguments, started_ms=self._elapsed_ms())
        with self._lock:
            self.records.append(record)
            count = len(self.records)
        if count > self.limits.tool_calls:
            record.outcome = "refused"
            record.error = "over the tool-call limit"
            raise ExecutionStopped(
                "tool_calls",
                f"the program made more than {self.limits.tool_calls} tool calls "
                f"({self.limits.describe('tool_calls')}) and was stopped at a call of {name}()",
            )
        return record

    def _prepare(
        self, name: str, args_json: str, record: ToolCallRecord
    ) -> tuple[Tool | None, dict[str, Any], Reply | None]:
        tool = self.tools.get(name)
        if tool is None:
            message = (
                f"there is no tool named {name!r}; the tools are: {self.tools.describe_names()}"
            )
            self._finish(record, "unknown", message)
            return None, {}, error_reply("unknown", message)
        try:
            kwargs = tool.validate_json(args_json)
        except ToolArgumentsError as exc:
            self._finish(record, "invalid", str(exc))
            return None, {}, error_reply("invalid", str(exc))
        return tool, kwargs, None

    def _finish(self, record: ToolCallRecord, outcome: Any, error: str | None = None) -> None:
        record.duration_ms = self._elapsed_ms() - record.started_ms
        record.outcome = outcome
        record.error = error

    def _timeout_of(self, tool: Tool) -> float:
        return tool.timeout if tool.timeout is not None else self.limits.tool_timeout

    def _tool_timeout(self, record: ToolCallRecord) -> Stop:
        tool = self.tools.get(record.name)
        seconds = self._timeout_of(tool) if tool is not None else self.limits.tool_timeout
        return Stop(
            "tool_timeout",
            f"the call of {record.name}() took longer than its timeout ({seconds:g}s) "
            "and the program was stopped",
        )

    def _result_reply(self, tool: Tool, result: Any, record: ToolCallRecord) -> Reply:
        try:
            encoded = json.dumps(tool.to_json(result))
        except (ResultConversionError, ValueError) as exc:
            message = f"{tool.name}() returned a value that cannot be sent to the program: {exc}"
            self._finish(record, "error", message)
            return error_reply("error", message)
        self._finish(record, "ok")
        return ok_reply(encoded)

    def _error_reply(self, exc: BaseException, record: ToolCallRecord) -> Reply:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._finish(record, "error", message)
        return error_reply("error", message)

    def _run_inline(self, tool: Tool, kwargs: dict[str, Any], record: ToolCallRecord) -> Reply:
        limit = self._timeout_of(tool)
        started = time.monotonic()
        self._inline = (record, started + limit)
        try:
            result = tool.fn(**kwargs)
        except Exception as exc:
            return self._error_reply(exc, record)
        finally:
            self._inline = None
        if inspect.isawaitable(result):  # a sync-looking callable that returned a coroutine
            return self._await(self._on_loop(_awaited(result)), record, tool)
        if time.monotonic() - started > limit:
            self._finish(record, "timeout", "took longer than its timeout")
            stop = self._tool_timeout(record)
            raise ExecutionStopped(stop.limit, stop.message)
        return self._result_reply(tool, result, record)

    async def _invoke(self, tool: Tool, kwargs: dict[str, Any], record: ToolCallRecord) -> Reply:
        """Run a tool on the loop (async tools, and every started call) with its timeout."""
        if tool.is_async:
            task: asyncio.Future[Any] = asyncio.ensure_future(tool.fn(**kwargs))
        else:
            task = asyncio.ensure_future(asyncio.to_thread(tool.fn, **kwargs))
        try:
            done, _ = await asyncio.wait({task}, timeout=self._timeout_of(tool))
        except asyncio.CancelledError:
            task.cancel()
            self._finish(record, "cancelled", "cancelled")
            raise
        if not done:
            task.cancel()
            self._finish(record, "timeout", "took longer than its timeout")
            stop = self._tool_timeout(record)
            raise ExecutionStopped(stop.limit, stop.message)
        try:
            result = task.result()
        except asyncio.CancelledError:
            self._finish(record, "cancelled", "cancelled")
            raise
        except Exception as exc:
            return self._error_reply(exc, record)
        return self._result_reply(tool, result, record)

    def _await(
        self,
        future: concurrent.futures.Future[Any],
        record: ToolCallRecord,
        tool: Tool | None = None,
    ) -> Reply:
        """Wait on the sandbox thread for a call running on the loop."""
        while True:
            left = self._deadline - time.monotonic()
            if left <= 0:
                future.cancel()
                self._finish(record, "cancelled", "the program's wall time ran out")
                raise ExecutionStopped(
                    "wall_time",
                    "the program ran longer than its wall-time limit "
                    f"({self.limits.describe('wall_time')}) and was stopped",
                )
            done, _ = concurrent.futures.wait([future], timeout=min(left, 0.25))
            if done:
                break
        if tool is not None and not future.cancelled() and future.exception() is None:
            return self._result_reply(tool, future.result(), record)
        return self._reply_of(future, record)

    def _reply_of(
        self, future: concurrent.futures.Future[Any], record: ToolCallRecord | None = None
    ) -> Reply:
        if future.cancelled():
            raise ExecutionStopped("wall_time", "the execution was cancelled by the host")
        exc = future.exception()
        if isinstance(exc, ExecutionStopped):
            raise exc
        if exc is not None:
            if record is not None:
                return self._error_reply(exc, record)
            return error_reply("error", f"{type(exc).__name__}: {exc}")
        reply: Reply = future.result()
        return reply


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
