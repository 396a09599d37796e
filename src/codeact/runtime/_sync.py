"""The synchronous facade: a private event loop in a daemon thread, and Ctrl-C while waiting.

`CodeAct.execute_sync` runs the async core on this loop, so async tools keep one loop across
calls (their clients and sessions stay valid) without the caller owning an event loop;
`result_or_interrupted` turns Ctrl-C during that wait into a stopped program and its result.
`PrivateLoop` is an object's own such loop: made once, by whichever thread asks first, and
stopped by the object's `close()` or when the object is collected, whichever comes first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import ExecutionInterrupted, UserError
from ..sandbox.placement import QuietGate, ThreadPlacement

if TYPE_CHECKING:
    from .result import ExecutionResult

T = TypeVar("T")
_log = logging.getLogger("codeact")

__all__ = ["LoopThread", "PrivateLoop", "refuse_inside_loop", "result_or_interrupted"]


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
    except BaseException:  # SIGTERM's SystemExit, say: the caller is leaving, so does its call
        future.cancel()  # (and `close()` never waits for a call nobody waits for)
        raise


class LoopThread:
    """An event loop in a daemon thread of its own. When nothing has run on it for a moment, a
    submitted coroutine wakes the loop's thread on the caller's CPU (as `DaemonThreadPool` does its
    threads: waking a thread on an idle CPU is the slow part of a short call).

    The thread owns the loop to the end: once stopped (`close`, `stop_soon`), it cancels what
    still runs on it, lets that unwind and closes the loop (its selector and self-pipe).

    asyncio re-raises a SystemExit or KeyboardInterrupt that a task or callback raised (an
    approval handler's, an `on_output` listener's) out of the loop; the thread then hands it
    to every caller waiting on the loop (their calls are cancelled and unwind) and runs the
    loop on: no caller waits forever, and later calls still run."""

    def __init__(self, name: str = "codeact-sync") -> None:
        self._loop = asyncio.new_event_loop()
        self._place = ThreadPlacement()
        self._quiet = QuietGate()
        # Reentrant: a finalizer may stop the loop (`stop_soon`) on the loop's own thread
        # while that thread holds the lock in `_done`.
        self._lock = threading.RLock()
        self._stopping = False
        self._running: set[concurrent.futures.Future[Any]] = set()  # the callers' futures
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name=name, daemon=True)
        self._thread.start()
        started.wait()

    def _serve(self, started: threading.Event) -> None:
        self._place.record()
        started.set()
        try:
            while True:
                try:
                    self._loop.run_forever()
                except BaseException as exc:  # SystemExit, KeyboardInterrupt: see the docstring
                    self._escaped(exc)
                    with self._lock:
                        if not self._stopping:
                            continue  # a stop() is lost when run_forever raises: we check
                break
            # Cancel what still runs (a call left by Ctrl-C) and let it unwind, so that no task
            # is destroyed pending when the loop goes.
            self._loop.run_until_complete(_cancel_all())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        except BaseException as exc:  # raised while unwinding: nobody waits any more
            self._escaped(exc)
        finally:
            self._loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the loop; the caller waits on (or wraps) the returned future."""
        with self._lock:
            if self._stopping:
                coro.close()
                raise RuntimeError("this loop thread was closed")
            if self._quiet.start():
                self._place.pin_near()
            # The thread unpins itself as the coroutine starts (as its own callback it would
            # wake, unpin and sleep again before the task is scheduled, then wake anywhere).
            # The coroutine always starts, even if `future` is cancelled first: asyncio
            # schedules the task's first step before it passes the cancellation on. Queued
            # before the loop's stop (same lock), it is started, then cancelled, not lost.
            # The caller's future is not the loop's own (`inner`), so that `_escaped` can end it.
            inner = asyncio.run_coroutine_threadsafe(self._unpinned(coro), self._loop)
            future: concurrent.futures.Future[T] = concurrent.futures.Future()
            self._running.add(future)
        inner.add_done_callback(functools.partial(_settle, future))
        future.add_done_callback(functools.partial(self._done, inner))
        return future

    async def _unpinned(self, coro: Coroutine[Any, Any, T]) -> T:
        self._place.unpin()
        return await coro

    def _done(
        self, inner: concurrent.futures.Future[Any], future: concurrent.futures.Future[Any]
    ) -> None:
        with self._lock:
            self._quiet.end()
            self._running.discard(future)
        inner.cancel()  # the caller's future ended first (cancelled, escaped): so does the call

    def _escaped(self, exc: BaseException) -> None:
        """`exc` left the loop: every waiting caller gets it, and its call is cancelled."""
        _log.debug("codeact: %s escaped the sync loop", type(exc).__name__)
        with self._lock:
            running = list(self._running)
        for future in running:
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # just settled
                future.set_exception(exc)

    def wait_idle(self) -> None:
        """Wait for the calls that run on the loop now (another thread's `execute_sync` or
        `run_sync`) to end, so that `close()` does not cancel them under their caller. Not
        on the loop's own thread (a call there would wait for itself)."""
        if threading.current_thread() is self._thread:
            return
        while True:
            with self._lock:
                running = list(self._running)
            if not running:
                return
            concurrent.futures.wait(running)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result in the calling thread."""
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:  # Ctrl-C, SIGTERM's SystemExit: the caller is leaving; so does
            future.cancel()  # its call (`wait_idle` never waits for one nobody waits for)
            raise

    def stop_soon(self) -> None:
        """Stop the loop without waiting: the thread winds down and ends by itself. Safe from
        any thread, the loop's own included, and from a finalizer."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            with contextlib.suppress(RuntimeError):  # closed already
                self._loop.call_soon_threadsafe(self._loop.stop)

    def close(self) -> None:
        """Wait for the calls that run now to end, stop the loop and wait (a few seconds at
        most) for its thread to end."""
        self.wait_idle()
        self.stop_soon()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)


class PrivateLoop:
    """The `LoopThread` of one object's sync API, made on first use (once, whichever thread
    asks first) and stopped by `close()` or, at the latest, when `owner` is collected: a
    thread (and three descriptors) must not outlive the object nobody can close any more.
    Nothing here refers to `owner`, so the thread never keeps it alive."""

    def __init__(self, owner: object, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._thread: LoopThread | None = None
        self._pid = os.getpid()
        weakref.finalize(owner, self._abandon).atexit = False

    def get(self) -> LoopThread:
        if self._pid != os.getpid():  # a forked child: the parent's thread is not here
            self._lock, self._thread, self._pid = threading.Lock(), None, os.getpid()
        thread = self._thread
        if thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = LoopThread(name=self._name)
                thread = self._thread
        return thread

    def current(self) -> LoopThread | None:
        """The loop thread if one runs now (no new one is made)."""
        return self._thread

    def close(self) -> None:
        """Stop the loop thread, if any, once the calls running on it (from other threads)
        have ended, and wait for it; a later `get()` makes a new one."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.close()

    def _abandon(self) -> None:
        # The owner is gone (this runs in whatever thread collected it, possibly the loop's
        # own): stop without waiting and without a lock another frame of this thread may hold.
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop_soon()


def _settle(future: concurrent.futures.Future[T], inner: concurrent.futures.Future[T]) -> None:
    """Copy the loop's outcome of a call to its caller's future, unless that ended first."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if inner.cancelled():
            future.cancel()
        elif (exc := inner.exception()) is not None:
            future.set_exception(exc)
        else:
            future.set_result(inner.result())


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, left = await asyncio.wait(tasks, timeout=2)
    if left:  # an async tool that ignores its cancellation: it ends with the loop, quietly
        # (asyncio would print "Task was destroyed but it is pending!" over the caller's exit)
        _log.debug("codeact: %d task(s) ignored their cancellation", len(left))
        for task in left:
            task._log_destroy_pending = False  # type: ignore[attr-defined]
