"""Where our threads and processes wake: on the CPU of the thread that wakes them.

Executions usually come a model turn apart, and by then every CPU has gone idle. A woken
thread goes back to the CPU it last ran on; waking a halted CPU takes an inter-processor
interrupt, which on a VM is 0.15-0.25 ms each way, against about 0.04 ms on the waker's own
CPU (measured in docs/performance.md). So a sleeping thread of ours is restricted to the
waker's CPU just before it is woken (`ThreadPlacement.pin_near`), and it sets its own CPU set
back as the first thing it does (`unpin`); a sleeping process of ours (the jail's child) the
same way: it gets its set in the request that wakes it and sets it back itself before it
runs anything of the user's (`wake_process_near`). Nothing here touches a thread that is not
ours, and nothing runs a program pinned. The callers decide when (only after a quiet
moment: `QUIET_SECONDS`). Linux only; anywhere else, or once setting affinity has
failed (a cpuset changed under the process), it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

__all__ = [
    "ENABLED",
    "QUIET_SECONDS",
    "QuietGate",
    "ThreadPlacement",
    "current_cpu",
    "wake_process_near",
    "woken_near",
]

log = logging.getLogger("codeact.sandbox")

_local = threading.local()

#: Wake a thread near only after its pool has had nothing to run for this long: by then the
#: CPUs have gone idle. Back to back, a wake-up is cheap anyway (0.02 ms), and keeping the
#: next program, its thread and its child on one CPU measured slower (jail, 7%).
QUIET_SECONDS = 0.001


class QuietGate:
    """The jobs running on one set of our threads, and whether a job that starts now comes
    after `QUIET_SECONDS` with nothing running (then its thread is woken near). Not locked:
    its owner calls it under its own lock."""

    __slots__ = ("_running", "_since")

    def __init__(self) -> None:
        self._running = 0
        self._since = 0.0  # monotonic time the last job ended (0: none has run)

    def start(self) -> bool:
        """A job starts: whether the threads were quiet before it."""
        quiet = self._running == 0 and time.monotonic() - self._since >= QUIET_SECONDS
        self._running += 1
        return quiet

    def end(self) -> None:
        self._running -= 1
        if not self._running:
            self._since = time.monotonic()


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


#: Whether threads are placed at all (see the module's docstring): off where affinity
#: cannot be set, or after it failed once. Tests and benchmarks may switch it.
ENABLED = _sched_getcpu is not None


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
        if ENABLED:
            try:
                self.mask = os.sched_getaffinity(0)
            except OSError:
                self.mask = None

    def pin_near(self) -> None:
        """Restrict the (sleeping) thread to the calling thread's CPU: it wakes there."""
        if not ENABLED or self.mask is None or len(self.mask) < 2 or not self.tid:
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


def wake_process_near(pid: int) -> list[int] | None:
    """Restrict a sleeping process of ours (a jail's child) to the calling thread's CPU, so
    that what the caller sends next wakes it there. Returns the CPU set it had, which the
    process must set back itself as soon as it is woken, before it runs anything else (from
    here that would race with the program: measured, a short program saw one CPU); None
    where nothing was done."""
    if not ENABLED:
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
    return sorted(mask)


def _give_up(exc: OSError) -> None:
    global ENABLED
    if ENABLED:
        ENABLED = False
        log.info("waking sandbox threads on the caller's CPU is off: %s", exc)
