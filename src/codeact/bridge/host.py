"""`HostBridge`: the host side of `call_tool` for one execution.

Every call a program makes arrives here as a name and JSON arguments, and goes through the
`ToolPipeline` (validation, middlewares, approval, the tool, the audit); here are the limits
on calls and where they run. The sandbox never holds a tool, only this object can run one:

* a sync tool called with `call_tool`, when every middleware that applies to the call can run
  synchronously (none applies, by default), runs right on the sandbox's thread: the program
  waits for it anyway, and a round trip stays under 0.1 ms. Its timeout cannot preempt Python
  code, so the supervisor (`overdue`) ends the whole execution when it is exceeded;
* everything else (async tools, async middlewares, calls waiting for an approval) runs on the
  caller's event loop, while the sandbox's thread waits;
* calls started with `call_tool_async` all run concurrently on the loop (sync tools in
  worker threads), and their timeouts cancel them.

A tool timeout (its result's conversion counts), like every limit, stops the program. While a
person decides about a call, the program's wall-time clock stands still (and a jail program
is stopped). Tools, middlewares and approval handlers run in (a copy per call of) the
`contextvars` context of `CodeAct.execute`'s caller (request-scoped values, a span).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..calls.call import (
    ProgramContext,
    ToolInvocation,
    ToolRaised,
    ToolTimeout,
    as_exception,
    awaited,
    describe_exception,
    task_cancelling,
)
from ..calls.middleware import Middleware, run_chain, run_chain_sync
from ..calls.outcome import CallResult
from ..calls.pipeline import ToolPipeline
from ..calls.result_json import run_timed
from ..calls.sizes import argument_size_error
from ..policy.limits import Limits
from ..tools import Tool, ToolSet
from . import stops
from .clock import ProgramClock
from .http_egress import HttpEgress
from .output import CappedOutput
from .protocol import (
    CallOutcome,
    Completion,
    ExecutionStopped,
    Reply,
    Stop,
    ToolCallRecord,
    error_reply,
    ok_reply,
)
from .stops import stopping

__all__ = ["HostBridge"]

#: How long past the deadline the supervisor waits for the backend to stop the program by
#: itself (a busy loop, a sleep): its own stop keeps the program's last output and /output
#: files, which a cancellation would lose. Not while a sync tool blocks the program inline.
GRACE = 0.5
_WAKE = object()
_PLAIN = frozenset((int, float, str, bool, type(None), dict, list))


class HostBridge:
    """Implements `ToolChannel` for one execution of one program."""

    def __init__(
        self,
        tools: ToolSet,
        limits: Limits,
        loop: asyncio.AbstractEventLoop,
        *,
        pipeline: ToolPipeline | None = None,
        program: ProgramContext | None = None,
        egress: HttpEgress | None = None,
    ) -> None:
        self.tools = tools
        self.egress = egress or HttpEgress(())  # no rules: every request is refused
        self.limits = limits
        self.loop = loop
        self.pipeline = pipeline or ToolPipeline()
        self.program = program or ProgramContext("")
        self.clock = ProgramClock(limits.wall_time)
        self.program.bind_clock(self.clock.person_deciding)
        self.program.limit_approvals(limits, lambda w: stopping(stops.approvals(limits, waited=w)))
        self.program.limit_arguments(limits)
        self.records: list[ToolCallRecord] = self.program.calls
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        #: When the backend began running the program (`begin`; monotonic), None before.
        self.began_at: float | None = None
        self._inline: tuple[ToolInvocation, float] | None = None  # running inline, its deadline
        # Every call running on the loop, started or awaited, so that cancel() reaches it.
        self._inflight: set[concurrent.futures.Future[Any]] = set()
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._next_id = 1
        self._waiting = 0  # started calls not yet returned by wait()
        self._cancelled = False
        self._stop: ExecutionStopped | None = None  # a limit hit inside the pipeline
        self._opened: dict[int, ToolInvocation] = {}  # id(record) -> its call, once opened
        self.output = CappedOutput(limits.output_bytes)
        # The context of the execute() caller (the bridge is made on its task), for every call.
        self._context = contextvars.copy_context()

    # -- ToolChannel -----------------------------------------------------------------------
    def begin(self) -> None:
        self._t0 = self.began_at = time.monotonic()
        self.clock.start()

    def end(self) -> None:
        self.clock.ended = True

    @property
    def deadline(self) -> float:
        return self.clock.deadline

    def call(self, name: str, args_json: str) -> Reply:
        call = self._prepare(name, args_json)
        if not isinstance(call, ToolInvocation):
            return call
        chain, sync = self.pipeline.chain_for(call)
        if sync and not call.tool.is_async:
            return self._run_inline(call, chain)
        reply: Reply = self._await(self._on_loop(self._run_on_loop(call, chain)))
        return reply

    def start(self, name: str, args_json: str) -> int | Reply:
        call = self._prepare(name, args_json)
        if not isinstance(call, ToolInvocation):
            return call
        chain, _ = self.pipeline.chain_for(call)
        with self._lock:
            call_id = self._next_id
            self._next_id += 1
            self._waiting += 1
        future = self._on_loop(self._run_on_loop(call, chain))
        future.add_done_callback(functools.partial(self._call_done, call_id))
        return call_id

    def wait(self, timeout: float | None) -> list[Completion]:
        if self._waiting == 0:
            return []
        self.clock.program_blocked(True)
        try:
            first = self._done.get(timeout=timeout)
        except queue.Empty:
            return []
        finally:
            self.clock.program_blocked(False)
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
            raise stopping(stops.cancelled())
        return finished

    def pending(self) -> int:
        return self._waiting

    def freeze_with(self, freeze: Callable[[bool], None] | None) -> None:
        self.clock.freeze_with(freeze)

    def write_output(self, stream: int, text: str) -> None:
        self.output.write(stream, text)

    def http_request(self, request_json: str) -> Reply:
        """The program's HTTP request: the egress checks it against the allow-list."""
        return self.egress.request(request_json, deadline=self.deadline)

    def _call_done(self, call_id: int, future: concurrent.futures.Future[Reply]) -> None:
        self._done.put((call_id, future))

    def _on_loop(self, coro: Any) -> concurrent.futures.Future[Any]:
        """Run `coro` on the caller's loop, in the caller's context; cancel() will reach it."""
        # The task is created in (a copy of) the context current where it is scheduled.
        future = self._context.copy().run(asyncio.run_coroutine_threadsafe, coro, self.loop)
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
        if inline is not None and now > inline[1]:
            call = inline[0]
            self.pipeline.fail(call, ToolTimeout(self._timeout_of(call.tool)))
            return self._tool_timeout(call)
        if now > self.deadline + (0.0 if inline is not None else GRACE):
            return stops.wall_time(self.limits)
        return None

    def next_check(self) -> float:
        """Seconds until `overdue` could next return something."""
        inline = self._inline
        # A sync tool that blocks the program is stopped at the limit, without grace.
        due = self.deadline + GRACE if inline is None else min(self.deadline, inline[1])
        return max(0.01, due - time.monotonic())

    def extend_deadline(self, seconds: float) -> None:  # move it later
        self.clock.extend(seconds)

    def cancel(self) -> None:
        """Stop everything still running for this execution and wake a waiting program."""
        self._cancelled = True
        for future in list(self._inflight):
            future.cancel()
        self._done.put(_WAKE)

    def finish(self) -> None:
        """After the run: calls still in flight (not settled) are audited as cancelled."""
        for record in self.program.unsettled(list(self.records)):  # with its call, if opened:
            self._end(record, "cancelled", "the program ended while it ran")  # its decision

    # -- one call: the pipeline opens and closes it; here, threads, limits and time -------------
    def _prepare(self, name: str, args_json: str) -> ToolInvocation | Reply:
        """Record the call, enforce the tool-call limit, and open it (tool, arguments).

        Sizes first: arguments over `Limits.tool_argument_bytes`, or for a tool that does not
        exist, are never parsed (a program controls their shape and size)."""
        if self._cancelled:
            raise stopping(stops.cancelled())
        opened = time.monotonic()
        name = self.tools.recorded_name(name)  # a huge name no tool has: only its start
        too_large = argument_size_error(name, args_json, self.limits.tool_argument_bytes)
        record, parsed = self.pipeline.record(
            name,
            args_json,
            started_ms=(opened - self._t0) * 1000,
            run_id=self.program.run_id,
            parse=too_large is None
            and name in self.tools
            and self.program.arguments_fit(len(args_json)),  # else refused unread, in open
        )
        with self._lock:
            self.records.append(record)
            count = len(self.records)
        if count > self.limits.tool_calls:
            self._end(record, "refused", "over the tool-call limit")
            raise stopping(stops.tool_calls(self.limits, name))
        if too_large is not None and name in self.tools:
            end = self.pipeline.end(
                record, "invalid", too_large, kind="invalid", program=self.program, opened=opened
            )
            return _reply(end)
        call = self.pipeline.open(
            record, self.tools, args_json, parsed, opened=opened, program=self.program
        )
        if isinstance(call, CallResult):
            return _reply(call)
        self._opened[id(record)] = call
        return call

    def _run_inline(self, call: ToolInvocation, chain: list[Middleware]) -> Reply:
        try:
            if chain:
                result = self._context.copy().run(run_chain_sync, call, chain, self._tool_inline)
            else:
                result = self._context.copy().run(self._tool_inline, call)
        except ExecutionStopped:
            raise
        except BaseException as exc:  # a tool's SystemExit, say: fails its call, not the host
            return _reply(self.pipeline.fail(call, as_exception(exc)))
        self._inline = (call, (call.ran_at or time.monotonic()) + self._timeout_of(call.tool))
        try:  # the conversion too: a lazy result may block this thread (`overdue` stops it)
            end = self.pipeline.close(call, result, **self._result_limits(call))
        finally:
            self._inline = None
        return self._closed(call, end)

    def _result_limits(self, call: ToolInvocation) -> dict[str, Any]:
        return {"max_bytes": self.limits.tool_result_bytes, "timeout": self._timeout_of(call.tool)}

    def _closed(self, call: ToolInvocation, end: CallResult) -> Reply:
        """The reply, unless a limit stopped the program (its result's conversion, say)."""
        if self._stop is None and not end.ok and end.record.outcome == "timeout":
            self._stop = stopping(self._tool_timeout(call))
        if self._stop is not None:
            raise self._stop
        return _reply(end)

    def _tool_inline(self, call: ToolInvocation) -> Any:
        tool = call.tool
        limit = self._timeout_of(tool)
        started = call.ran_at = time.monotonic()
        self._inline = (call, started + limit)
        try:
            result = tool.fn(**call.kwargs)
        finally:
            self._inline = None
        if type(result) not in _PLAIN and inspect.isawaitable(result):  # a coroutine, say
            return self._await(self._on_loop(awaited(result)))
        if time.monotonic() - started > limit:
            self.pipeline.fail(call, ToolTimeout(limit))
            self._stop = stopping(self._tool_timeout(call))
            raise self._stop
        return result

    async def _run_on_loop(self, call: ToolInvocation, chain: list[Middleware]) -> Reply:
        try:
            result = await run_chain(call, chain, self._tool_on_loop)
        except ExecutionStopped:
            raise
        except asyncio.CancelledError as exc:
            if task_cancelling():  # the execution is being stopped
                self.pipeline.fail(call, exc)
                raise
            return _reply(self.pipeline.fail(call, ToolRaised(exc)))  # raised by a middleware
        except BaseException as exc:  # the pipeline's boundary: nothing a tool
            # or middleware raises may reach the event loop (a Task re-raises SystemExit there)
            return _reply(self.pipeline.fail(call, as_exception(exc)))
        end = await self.pipeline.close_async(call, result, **self._result_limits(call))
        return self._closed(call, end)  # (converted off the loop, unless small)

    async def _tool_on_loop(self, call: ToolInvocation) -> Any:
        try:
            return await run_timed(call, self._timeout_of(call.tool))
        except ToolTimeout as exc:
            self.pipeline.fail(call, exc)
            self._stop = stopping(self._tool_timeout(call))
            raise self._stop from None

    def _await(self, future: concurrent.futures.Future[Any]) -> Any:
        """Wait on the sandbox thread for work on the loop; its result, or its exception."""
        self.clock.program_blocked(True)
        try:
            while True:
                if self._cancelled:
                    future.cancel()
                    raise stopping(stops.cancelled())
                left = self.deadline - time.monotonic()
                if left <= 0:
                    future.cancel()
                    raise stopping(stops.wall_time(self.limits))
                done, _ = concurrent.futures.wait([future], timeout=min(left, 0.25))
                if done:
                    break
        finally:
            self.clock.program_blocked(False)
        if future.cancelled():
            raise stopping(stops.cancelled())
        return future.result()

    # -- replies and limits --------------------------------------------------------------------
    def _end(self, record: ToolCallRecord, outcome: CallOutcome, error: str) -> None:
        """End a call that never reached its tool (or outlived the program: then with what
        its call had decided so far, a gated call not yet decided `undecided`)."""
        opened, call = self._t0 + record.started_ms / 1000, self._opened.get(id(record))
        self.pipeline.end(record, outcome, error, call=call, program=self.program, opened=opened)

    def _reply_of(self, future: concurrent.futures.Future[Any]) -> Reply:
        if future.cancelled():
            raise stopping(stops.cancelled())
        exc = future.exception()
        if isinstance(exc, ExecutionStopped):
            raise exc
        if exc is not None:
            return error_reply("error", describe_exception(exc))
        reply: Reply = future.result()
        return reply

    def _timeout_of(self, tool: Tool) -> float:
        return tool.timeout if tool.timeout is not None else self.limits.tool_timeout

    def _tool_timeout(self, call: ToolInvocation) -> Stop:
        return stops.tool_timeout(call.name, call.tool.timeout, self.limits)


def _reply(end: CallResult) -> Reply:  # what the program receives for a closed call
    if end.ok:
        return ok_reply(end.encoded)
    return error_reply(end.error_kind or "error", end.error or "")
