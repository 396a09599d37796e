"""A small pool of pre-instantiated, warmed guest instances.

Each instance serves exactly one program and is then thrown away; the pool only moves the
cost of instantiating (about 1.5 ms) and of the first call (faulting in memory, about 0.7 ms)
off the caller's path. A background thread refills it shortly after a used instance comes
back (or at once when a take finds it empty), and frees the used instances handed to it
(`discard`); a runner whose caller has its outcome already may free its own (`release`).

The warm-up run costs more CPU than the first-touch faults it saves a program (about 3 ms
against 1.5 ms here). That pays when executions are apart (the pool warms between them, on
an idle core), not when callers come back to back: then every warm-up competes with the
programs for the same cores, and the next take finds the pool empty anyway. So an instance
made within `PRESSURE_SECONDS` of a take that found the pool empty is made with
`cold_factory` (instantiated, not warmed: about 1.3 ms, so the next take finds it);
otherwise it is warmed.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from ..artifacts import OutputsClosedError, outputs_closed
from ..cleanup import REMOVER
from ..threads import start_thread
from .runtime import Prepared

__all__ = ["InstancePool"]

log = logging.getLogger("codeact.sandbox.wasm")

#: After a run, wait this long before refilling: the caller's own work (resuming its event
#: loop, reading the result) goes first instead of competing for the GIL with the refill.
SETTLE_SECONDS = 0.001
#: After a take found the pool empty, refill without warming for this long (not extended by
#: later takes: executions a model turn apart get warm instances again soon).
PRESSURE_SECONDS = 0.25


class InstancePool:
    """Keeps up to `size` fresh instances made by `factory`; `take` never blocks."""

    def __init__(
        self,
        factory: Callable[[], Prepared],
        size: int,
        *,
        cold_factory: Callable[[], Prepared] | None = None,
    ) -> None:
        self._factory = factory
        self._cold_factory = cold_factory or factory
        self._pressed_until = 0.0  # monotonic time until which the pool makes cold instances
        self._size = max(0, size)
        self._ready: collections.deque[Prepared] = collections.deque()
        self._used: collections.deque[Prepared] = collections.deque()
        self._wake = threading.Event()
        self._urgent = False
        self._closed = False
        self._failures = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        if self._size:
            self._ensure_thread()
            self._wake.set()

    def _ensure_thread(self) -> None:
        """(Re)start the pool's thread: if anything ever ends it, the next call brings it back,
        so used instances are still freed (each holds tens of MB and an /output directory)."""
        with self._start_lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            if self._thread is not None:
                log.error("the sandbox pool's thread had ended; starting a new one")
            self._thread = start_thread(self._serve, name="codeact-pool")

    def take(self) -> Prepared | None:
        """A warmed instance, or None when the pool is empty (the caller makes one itself)."""
        try:
            return self._ready.popleft()
        except IndexError:
            # Empty: refill now. Otherwise the refill waits for `discard`, so that making
            # the next instance does not compete with the program that is running.
            self._urgent = True
            self._pressed_until = time.monotonic() + PRESSURE_SECONDS
            self._ensure_thread()
            self._wake.set()
            return None

    def discard(self, prepared: Prepared) -> None:
        """Hand back a used instance; the pool's thread frees it (off the caller's path)."""
        if self._thread is None or self._closed:
            _free(prepared)
            return
        self._used.append(prepared)
        self._ensure_thread()
        self._wake.set()

    def release(self, prepared: Prepared) -> None:
        """Free a used instance on the calling thread, then let the pool refill: `discard`
        for a caller that has handed its result on already. Two callers' threads then free
        their instances at once, where the pool's one thread freed them one after the other
        (and every instance made meanwhile waited for it: `SlotTracker.taken`)."""
        if self._thread is None or self._closed:
            _free(prepared)
            return
        _free(prepared, later=True)
        self._ensure_thread()
        self._wake.set()

    @property
    def backlog(self) -> int:
        """Used instances handed to the pool's thread and not freed yet."""
        return len(self._used)

    def __len__(self) -> int:
        return len(self._ready)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        # Pop, never test for emptiness and then pop: a run may still take from this pool
        # (a backend replaces its pool when the runs' preopens change) and the pool's thread
        # frees what comes back.
        for pooled in (self._ready, self._used):
            while (prepared := _pop(pooled)) is not None:
                _free(prepared)

    def _serve(self) -> None:
        try:
            self._fill()
        except BaseException:  # logged; `_ensure_thread` starts a new thread on the next call
            log.exception("the sandbox pool's thread failed")

    def _fill(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            if not self._urgent:
                time.sleep(SETTLE_SECONDS)
            self._urgent = False
            # The memory here; the /output tree on the remover's thread, since its removal
            # takes as long as the file system needs (about 4 ms a directory on a slow disk).
            while (used := _pop(self._used)) is not None:
                _free(used, later=True)
            # After repeated failures stop refilling (callers instantiate themselves and see
            # the error) but keep freeing what comes back.
            while not self._closed and self._failures < 3 and len(self._ready) < self._size:
                cold = time.monotonic() < self._pressed_until
                try:
                    prepared = self._cold_factory() if cold else self._factory()
                except OutputsClosedError:
                    return  # the process is exiting: nothing more to warm
                except Exception:
                    if outputs_closed():  # the exit removed its /output under it: quietly
                        return
                    self._failures += 1
                    log.exception(
                        "could not pre-instantiate a sandbox (failure %d)", self._failures
                    )
                    continue
                if self._closed:
                    _free(prepared)
                    return
                self._ready.append(prepared)


def _pop(pooled: collections.deque[Prepared]) -> Prepared | None:
    try:
        return pooled.popleft()
    except IndexError:
        return None


def _free(prepared: Prepared, *, later: bool = False) -> None:
    """Close a used instance (its /output removed `later` by `REMOVER`); a failure is logged,
    never allowed to stop the freeing."""
    try:
        if later and prepared.output_dir is not None:
            output_dir, prepared.output_dir = prepared.output_dir, None
            REMOVER.remove_later(output_dir)
        prepared.close()
    except Exception:
        log.exception("could not free a used sandbox instance")
