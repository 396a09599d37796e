"""The synchronous facade: a private event loop in a daemon thread, and Ctrl-C while waiting.

`CodeAct.execute_sync` runs the async core on this loop, so async tools keep one loop across
calls (their clients and sessions stay valid) without the caller owning an event loop;
`result_or_interrupted` turns Ctrl-C during that wait into a stopped program and its result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import ExecutionInterrupted, UserError
from ..sandbox.placement import QuietGate, ThreadPlacement

if TYPE_CHECKING:
    from .result import ExecutionResult

T = TypeVar("T")

__all__ = ["LoopThread", "refuse_inside_loop", "result_or_interrupted"]


class _Interruptible(Protocol):
    def interrupt(self) -> None: ...


def refuse_inside_loop(call: str, instead: str) -> None:
    """Raise `UserError` when a blocking `call` is made on a thread that runs an event loop
    (it would block that loop, or deadlock it); `instead` is the awaitable to use there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise UserError(f"{call} was called inside a running event loop; use `{instead}` there")


def result_or_interrupted(
    codeact: _Interruptible, future: concurrent.futures.Future[ExecutionResult]
) -> ExecutionResult:
    """Wait for `future`; on Ctrl-C stop the program and raise `ExecutionInterrupted` with
    its result, so that what it printed is not lost."""
    try:
        return future.result()
    except KeyboardInterrupt:
        codeact.interrupt()
        try:
            result = future.result(timeout=5)
        except BaseException:
            future.cancel()
            raise KeyboardInterrupt from None
        raise ExecutionInterrupted(result) from None


class LoopThread:
    """An event loop in a daemon thread of its own. When nothing has run on it for a moment, a
    submitted coroutine wakes the loop's thread on the caller's CPU (as `DaemonThreadPool` does its
    threads: waking a thread on an idle CPU is the slow part of a short call)."""

    def __init__(self, name: str = "codeact-sync") -> None:
        self._loop = asyncio.new_event_loop()
        self._place = ThreadPlacement()
        self._quiet = QuietGate()
        self._lock = threading.Lock()
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name=name, daemon=True)
        self._thread.start()
        started.wait()

    def _serve(self, started: threading.Event) -> None:
        self._place.record()
        started.set()
        self._loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the loop; the caller waits on (or wraps) the returned future."""
        with self._lock:
            if self._quiet.start():
                self._place.pin_near()
        # The thread unpins itself as the coroutine starts (as its own callback it would
        # wake, unpin and sleep again before the task is scheduled, then wake anywhere). The
        # coroutine always starts, even if `future` is cancelled first: asyncio schedules the
        # task's first step before it passes the cancellation on.
        future = asyncio.run_coroutine_threadsafe(self._unpinned(coro), self._loop)
        future.add_done_callback(self._done)
        return future

    async def _unpinned(self, coro: Coroutine[Any, Any, T]) -> T:
        self._place.unpin()
        return await coro

    def _done(self, _future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._quiet.end()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result in the calling thread."""
        future = self.submit(coro)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return
        # Cancel what still runs (a call left by Ctrl-C) and let it unwind, so that no task is
        # destroyed pending when the loop goes.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2)
