"""`DaemonThreadPool`: the threads that serve running sandboxes.

A backend runs each program from a thread of its own, and a program can leave that thread
blocked in a host call that nothing can interrupt (a sleep inside the guest's WASI, a sync
tool that hangs). The caller still gets its result on time; the thread is abandoned until the
call returns. `concurrent.futures.ThreadPoolExecutor` joins its workers when Python exits, so
one such thread would hold the whole process open; these threads are daemons instead.

Each job goes straight to one idle thread (the one idle the shortest time, its caches the
warmest) or to a new one, never through a shared queue, so the pool knows which thread it
wakes. When the pool has had nothing to run for a moment (`placement.QuietGate`), that
thread is woken on the caller's own CPU (`sandbox/placement.py` says why and how); it takes
back its own CPU set before the job, and while other jobs run the scheduler places threads
as it always would.

A thread idle for `DaemonThreadPool.idle_timeout` (30 s) ends: a program controls how many
threads run at once (200 `call_tool_async` to a sync tool start 200), and without that the
peak would stay for the life of the process. A job submitted while a thread decides to end
goes to that thread (it was still idle, so it stays) or to another.

Every thread that runs programs (these, and the wasm pool's thread that makes and frees
instances) is started by `start_thread`, with a stack of at least
`GUEST_THREAD_STACK` whatever the application chose (`threading.stack_size`, `ulimit -s`):
wasmtime lets a guest use `sandbox.wasm.engine.MAX_WASM_STACK` of the stack of the thread
that calls it, and only checks that against where the call began. On a thread with less
room than that, a program's deep recursion ran past the thread's own stack and killed the
whole host process (SIGSEGV) instead of stopping the program.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .placement import QuietGate, ThreadPlacement

__all__ = ["GUEST_THREAD_STACK", "DaemonThreadPool", "start_thread"]

log = logging.getLogger("codeact.sandbox")

T = TypeVar("T")
_STOP = object()

#: The stack of every thread that runs guest code: room for the guest's share (wasmtime's
#: `MAX_WASM_STACK`, 2 MiB) and, below it, the host's own frames (tool calls, callbacks).
#: Address space only: a thread's stack is committed as it is used.
GUEST_THREAD_STACK = 8 * 1024 * 1024
_stack_size_lock = threading.Lock()


def start_thread(
    target: Callable[..., object], *, name: str, args: tuple[Any, ...] = ()
) -> threading.Thread:
    """Start a daemon thread with a stack of at least `GUEST_THREAD_STACK` bytes.

    Python sets a thread's stack size only process-wide (`threading.stack_size`), so this sets
    it for the one `start()` and puts the application's setting back. A thread another part
    of the process starts in that moment gets the larger stack too, which is harmless.
    """
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    with _stack_size_lock:
        # `stack_size()` sets as it reads (no argument is 0, the default): set ours, then the
        # application's back if it was larger.
        try:
            previous = threading.stack_size(GUEST_THREAD_STACK)
        except (ValueError, RuntimeError) as exc:  # a platform that cannot set it
            log.warning("cannot set the stack size of sandbox threads: %s", exc)
            thread.start()
            return thread
        try:
            if previous > GUEST_THREAD_STACK:
                threading.stack_size(previous)
            thread.start()
        finally:
            threading.stack_size(previous)
    return thread


class _Worker(ThreadPlacement):
    """One daemon thread of a pool, with its own inbox."""

    __slots__ = ("inbox",)

    def __init__(self) -> None:
        super().__init__()
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()


class DaemonThreadPool(concurrent.futures.Executor):
    """Reuses idle daemon threads and starts a new one whenever none is idle (a blocked
    thread never delays other work); a thread idle for `idle_timeout` seconds ends."""

    #: Seconds a thread waits idle for work before it ends.
    idle_timeout: float = 30.0

    def __init__(self, name: str, *, idle_timeout: float | None = None) -> None:
        self._name = name
        if idle_timeout is not None:
            self.idle_timeout = idle_timeout
        self._idle: list[_Worker] = []  # a stack: the last to go idle is the first woken
        self._lock = threading.Lock()
        self._count = 0
        self._quiet = QuietGate()
        self._shutdown = False

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        return self._submit(fn, args, kwargs, then=False)

    def submit_then(
        self, fn: Callable[..., tuple[T, Callable[[], None] | None]], /, *args: Any
    ) -> concurrent.futures.Future[T]:
        """Like `submit` for a job that returns ``(value, then)``: the future gets `value`,
        and the thread then runs ``then()`` (when not None) before it takes other work. For
        work the caller need not wait for, but that belongs on this thread."""
        return self._submit(fn, args, {}, then=True)

    def _submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, then: bool
    ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError(f"{self._name}: cannot run new work after shutdown")
            quiet = self._quiet.start()
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._count += 1
                worker = _Worker()
                start_thread(self._serve, args=(worker,), name=f"{self._name}-{self._count}")
            elif quiet:
                worker.pin_near()
            worker.inbox.put((future, fn, args, kwargs, then))
        return future

    def _serve(self, me: _Worker) -> None:
        me.record()
        while True:
            try:
                item = me.inbox.get(timeout=self.idle_timeout)
            except queue.Empty:
                if self._retire(me):
                    return
                continue  # taken for a job as it timed out: the job is in its inbox
            me.unpin()
            if item is _STOP:
                return
            future, fn, args, kwargs, then = item
            del item
            value: Any = None
            error: BaseException | None = None
            follow_up: Callable[[], None] | None = None
            started = future.set_running_or_notify_cancel()
            if started:
                try:
                    value = fn(*args, **kwargs)
                    if then:
                        value, follow_up = value
                except BaseException as exc:
                    error = exc
            del fn, args, kwargs
            if follow_up is not None:
                # The caller hears first; this thread stays busy until the follow-up is done.
                future.set_result(value)
                del future, value
                _run_follow_up(follow_up)
                del follow_up
                if self._go_idle(me):
                    return
                continue
            # Idle before the caller hears back: its next job (often at once) finds this
            # thread instead of starting another.
            stop = self._go_idle(me)
            if started:
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(error)
            del future, value, error
            if stop:
                return

    def _go_idle(self, me: _Worker) -> bool:
        """Put `me` back among the idle threads; True when the pool is shut down (it ends)."""
        with self._lock:
            self._quiet.end()
            if self._shutdown:
                return True
            self._idle.append(me)
            return False

    def _retire(self, me: _Worker) -> bool:
        """`me` has waited idle for `idle_timeout`: True when it may end (it is no longer
        idle: no job can reach it), False when a submitter took it first (under the same
        lock, so its job is in `me.inbox` already)."""
        with self._lock:
            try:
                self._idle.remove(me)
            except ValueError:
                return False
            return True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop idle threads; a thread still running (or stuck) ends when its call returns.
        `wait` is ignored: waiting for a stuck guest is exactly what this pool avoids. Every
        job submitted has a thread of its own, so `cancel_futures` has none waiting to cancel;
        a cancelled future is skipped by its thread."""
        with self._lock:
            self._shutdown = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.inbox.put(_STOP)


def _run_follow_up(follow_up: Callable[[], None]) -> None:
    """A job's follow-up: its failure is logged, never the end of the thread."""
    try:
        follow_up()
    except BaseException:
        log.exception("a sandbox thread's follow-up work failed")
