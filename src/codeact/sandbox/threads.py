"""`DaemonThreadPool`: the threads that serve running sandboxes.

A backend runs each program from a thread of its own, and a program can leave that thread
blocked in a host call that nothing can interrupt (a sleep inside the guest's WASI, a sync
tool that hangs). The caller still gets its result on time; the thread is abandoned until the
call returns. `concurrent.futures.ThreadPoolExecutor` joins its workers when Python exits, so
one such thread would hold the whole process open; these threads are daemons instead.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["DaemonThreadPool"]

T = TypeVar("T")
_STOP = object()


class DaemonThreadPool(concurrent.futures.Executor):
    """Reuses idle daemon threads and starts a new one whenever none is idle (a blocked
    thread never delays other work)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._count = 0
        self._shutdown = False

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError(f"{self._name}: cannot run new work after shutdown")
            future: concurrent.futures.Future[T] = concurrent.futures.Future()
            self._work.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False):
                self._count += 1
                threading.Thread(
                    target=self._worker, name=f"{self._name}-{self._count}", daemon=True
                ).start()
        return future

    def _worker(self) -> None:
        while True:
            item = self._work.get()
            if item is _STOP:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
            del item, future, fn, args, kwargs
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop idle threads; a thread still running (or stuck) ends when its call returns.
        `wait` is ignored: waiting for a stuck guest is exactly what this pool avoids."""
        with self._lock:
            self._shutdown = True
            count = self._count
        if cancel_futures:
            while True:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP:
                    item[0].cancel()
        for _ in range(count):
            self._work.put(_STOP)
