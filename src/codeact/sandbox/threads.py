"""`DaemonThreadPool`: the threads that serve running sandboxes.

A backend runs each program from a thread of its own, and a program can leave that thread
blocked in a host call that nothing can interrupt (a sleep inside the guest's WASI, a sync
tool that hangs). The caller still gets its result on time; the thread is abandoned until the
call returns. `concurrent.futures.ThreadPoolExecutor` joins its workers when Python exits, so
one such thread would hold the whole process open; these threads are daemons instead.

Each job goes straight to one idle thread (the one idle the shortest time, its caches the
warmest) or to a new one, never through a shared queue, so the pool knows which thread it
wakes. When nothing else of the pool is running, that thread is woken on the caller's own CPU
(`wake_near`): an execution comes a model turn after the last, both CPUs have gone idle by
then, and waking a thread on an idle CPU costs an inter-processor interrupt, which on a VM is
0.15-0.25 ms each way (measured in docs/performance.md). The thread takes back its own CPU
set as soon as it runs, so a long program is free to move; when other work of the pool is
running the scheduler places the thread as it always would.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "QUIET_SECONDS",
    "DaemonThreadPool",
    "ThreadPlacement",
    "current_cpu",
    "wake_process_near",
    "woken_near",
]

log = logging.getLogger("codeact.sandbox")

T = TypeVar("T")
_STOP = object()

#: Wake a thread near only after the pool has had nothing to run for this long: by then the
#: CPUs have gone idle. Back to back, a wake-up is cheap anyway (0.02 ms), and keeping the
#: next program, its thread and its child on one CPU measured slower (jail, 7%).
QUIET_SECONDS = 0.001

_local = threading.local()


def woken_near() -> bool:
    """Whether the job running in this thread was handed over with its thread woken on the
    caller's CPU (the pool was quiet): what it wakes next may be placed the same way."""
    return bool(getattr(_local, "near", False))


def _load_sched_getcpu() -> Callable[[], int] | None:
    if not sys.platform.startswith("linux") or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        # The process's own symbols hold the C library's (glibc and musl alike); no
        # find_library, which runs ldconfig in a subprocess (13 ms at import here).
        getcpu = ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None
    getcpu.argtypes = []
    getcpu.restype = ctypes.c_int
    return getcpu


_sched_getcpu = _load_sched_getcpu()


def current_cpu() -> int | None:
    """The CPU the calling thread runs on now, or None where that cannot be known."""
    if _sched_getcpu is None:
        return None
    cpu = _sched_getcpu()
    return cpu if cpu >= 0 else None


class ThreadPlacement:
    """Where one of our threads may run: the CPU set it started with, and whether it is
    pinned to a caller's CPU until it wakes. Made and `record`ed by the thread itself."""

    __slots__ = ("mask", "pinned", "tid")

    def __init__(self) -> None:
        self.tid = 0
        self.mask: set[int] | None = None
        self.pinned = False

    def record(self) -> None:
        """Called by the thread itself, before it first waits."""
        self.tid = threading.get_native_id()
        if DaemonThreadPool.wake_near:
            try:
                self.mask = os.sched_getaffinity(0)
            except OSError:
                self.mask = None

    def pin_near(self) -> None:
        """Restrict the (sleeping) thread to the calling thread's CPU: it wakes there."""
        if self.mask is None or len(self.mask) < 2 or not self.tid:
            return  # unknown, or one CPU only: nothing to choose
        cpu = current_cpu()
        if cpu is None or cpu not in self.mask:
            return
        try:
            os.sched_setaffinity(self.tid, {cpu})
        except OSError as exc:  # e.g. a cpuset changed under us: stop trying, never fail
            _give_up(exc)
            return
        self.pinned = True

    def unpin(self) -> None:
        """Called by the thread itself once it runs: its own CPU set again."""
        _local.near = self.pinned
        if not self.pinned:
            return
        self.pinned = False
        assert self.mask is not None
        try:
            os.sched_setaffinity(0, self.mask)
        except OSError as exc:
            # The CPU set it started with is no longer allowed (a cpuset changed): take all
            # the CPUs the process may use now rather than stay on one.
            _give_up(exc)
            try:
                os.sched_setaffinity(0, range(os.cpu_count() or 1))
            except OSError:
                log.warning("a codeact thread could not take back its CPU set", exc_info=True)


class _Worker(ThreadPlacement):
    """One daemon thread of a pool, with its own inbox."""

    __slots__ = ("inbox",)

    def __init__(self) -> None:
        super().__init__()
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()


class DaemonThreadPool(concurrent.futures.Executor):
    """Reuses idle daemon threads and starts a new one whenever none is idle (a blocked
    thread never delays other work)."""

    #: Wake an idle thread on the caller's CPU when the pool has nothing else running
    #: (see the module's docstring); off where affinity cannot be set, or after it failed.
    wake_near = _sched_getcpu is not None

    def __init__(self, name: str) -> None:
        self._name = name
        self._idle: list[_Worker] = []  # a stack: the last to go idle is the first woken
        self._lock = threading.Lock()
        self._count = 0
        self._running = 0
        self._quiet_since = 0.0  # monotonic time the last job ended (0: none has run)
        self._shutdown = False

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError(f"{self._name}: cannot run new work after shutdown")
            quiet = self._running == 0 and time.monotonic() - self._quiet_since >= QUIET_SECONDS
            self._running += 1
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._count += 1
                worker = _Worker()
                threading.Thread(
                    target=self._serve,
                    args=(worker,),
                    name=f"{self._name}-{self._count}",
                    daemon=True,
                ).start()
            elif quiet and DaemonThreadPool.wake_near:
                worker.pin_near()
            worker.inbox.put((future, fn, args, kwargs))
        return future

    def _serve(self, me: _Worker) -> None:
        me.record()
        while True:
            item = me.inbox.get()
            me.unpin()
            if item is _STOP:
                return
            future, fn, args, kwargs = item
            del item
            value: Any = None
            error: BaseException | None = None
            started = future.set_running_or_notify_cancel()
            if started:
                try:
                    value = fn(*args, **kwargs)
                except BaseException as exc:
                    error = exc
            del fn, args, kwargs
            # Idle before the caller hears back: its next job (often at once) finds this
            # thread instead of starting another.
            with self._lock:
                self._running -= 1
                if not self._running:
                    self._quiet_since = time.monotonic()
                stop = self._shutdown
                if not stop:
                    self._idle.append(me)
            if started:
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(error)
            del future, value, error
            if stop:
                return

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


def wake_process_near(pid: int) -> Callable[[], None] | None:
    """Restrict a sleeping process of ours (a jail's child) to the calling thread's CPU, so
    that what the caller sends next wakes it there. Returns the undo, to call once the
    process has been woken (the kernel has placed it by then, and giving back its CPU set
    does not move it), or None where nothing was done."""
    if not DaemonThreadPool.wake_near:
        return None
    cpu = current_cpu()
    if cpu is None:
        return None
    try:
        mask = os.sched_getaffinity(pid)
        if cpu not in mask or len(mask) == 1:
            return None
        os.sched_setaffinity(pid, {cpu})
    except OSError:  # gone already, or not ours to place: it wakes wherever the kernel says
        return None

    def undo() -> None:
        try:
            os.sched_setaffinity(pid, mask)
        except OSError:
            pass  # it has exited

    return undo


def _give_up(exc: OSError) -> None:
    if DaemonThreadPool.wake_near:
        DaemonThreadPool.wake_near = False
        log.info("waking sandbox threads on the caller's CPU is off: %s", exc)
