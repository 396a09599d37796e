"""`Supervisor`: ends an execution that its backend cannot stop by itself."""

from __future__ import annotations

import asyncio

from ..bridge.host import HostBridge
from ..bridge.protocol import Stop

__all__ = ["Supervisor"]


class Supervisor:
    """Ends an execution whose backend cannot stop the program by itself (it is blocked in a
    host call that cannot be interrupted, e.g. a sync tool past its timeout): a timer on the
    event loop checks the bridge and cancels the waiting task, which reports the limit."""

    POLL = 0.25

    def __init__(self, bridge: HostBridge, loop: asyncio.AbstractEventLoop) -> None:
        self._bridge = bridge
        self._loop = loop
        self._task = asyncio.current_task()
        self.stop: Stop | None = None
        self.interrupted = False  # interrupt() stopped it (Ctrl-C)
        self._timer: asyncio.TimerHandle | None = loop.call_later(self._interval(), self._check)

    def _interval(self) -> float:
        # Poll at least every POLL seconds: an inline tool call may start at any moment, and
        # telling the loop about each one would cost a cross-thread wake-up per call.
        return min(self._bridge.next_check(), self.POLL)

    def _check(self) -> None:
        if self._bridge.clock.ended:  # the run's end is queued behind this timer (a busy
            self._timer = None  # loop, a slow listener): its outcome, within its limits, stands
            return
        stop = self._bridge.overdue()
        if stop is None:
            self._timer = self._loop.call_later(self._interval(), self._check)
            return
        self._timer = None
        self.stop = stop
        self._bridge.cancel()
        if self._task is not None:
            self._task.cancel()

    def interrupt(self) -> None:
        """Stop the execution now (Ctrl-C): it ends with what the program printed so far.
        Call on the loop's thread."""
        if self.stop is None and not self.interrupted:
            self.interrupted = True
            self._bridge.cancel()
            if self._task is not None:
                self._task.cancel()

    def consume_cancel(self) -> None:
        """Our own cancellation was handled: take it back, so that an enclosing
        asyncio.timeout() or TaskGroup does not see a cancellation that is not theirs."""
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
