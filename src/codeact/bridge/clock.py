"""`ProgramClock`: a program's wall-time deadline, which stands still while a person decides.

Time spent waiting for a person to approve a call must not count against the program's
wall-time limit. The clock pauses while both hold: an approval is pending, and the program is
blocked waiting for a call (a program that keeps computing while a started call waits for
approval keeps its clock running). Readers on other threads (the sandbox's deadline checks,
the supervisor) see one consistent value without taking a lock.

A program that can run while its call is blocked (the jail's child: other threads, signal
handlers) must not compute on a stopped clock: its backend gives `freeze_with` a function
that stops the program (True) and lets it go on (False), called as the clock pauses and goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["ProgramClock"]


class ProgramClock:
    """The deadline of one program (`time.monotonic()` seconds), paused while a person decides."""

    def __init__(self, wall_time: float) -> None:
        self.wall_time = wall_time
        self._lock = threading.Lock()
        # (deadline, paused since or None): one tuple, so a reader never sees half an update.
        self._state: tuple[float, float | None] = (time.monotonic() + wall_time, None)
        self._deciding = 0  # approvals being decided now
        self._blocked = 0  # the program is blocked waiting for a call
        self._freeze: Callable[[bool], None] | None = None
        #: The backend ran the program to its end (`ToolChannel.end`): its outcome decides.
        self.ended = False

    def start(self) -> None:
        """The program starts running: the deadline is `wall_time` from now."""
        with self._lock:
            self._state = (time.monotonic() + self.wall_time, None)
            self._update()

    @property
    def deadline(self) -> float:
        deadline, since = self._state
        return deadline if since is None else deadline + (time.monotonic() - since)

    def extend(self, seconds: float) -> None:
        with self._lock:
            deadline, since = self._state
            self._state = (deadline + seconds, since)

    def person_deciding(self, starting: bool) -> None:
        """An approval starts (True) or ends (False)."""
        with self._lock:
            self._deciding += 1 if starting else -1
            self._update()

    def program_blocked(self, blocked: bool) -> None:
        """The program starts (True) or stops (False) waiting for a call."""
        with self._lock:
            self._blocked += 1 if blocked else -1
            self._update()

    def freeze_with(self, freeze: Callable[[bool], None] | None) -> None:
        """From now on `freeze(True)` as the clock pauses, `freeze(False)` as it goes on (None:
        no more). Calls come under the clock's lock, so none comes after this returns. Set
        while the clock stands still, the new one stops the program at once; the old one
        lets it go on first."""
        with self._lock:
            if self.paused and self._freeze is not None:
                self._freeze(False)
            self._freeze = freeze
            if self.paused and freeze is not None:
                freeze(True)

    @property
    def paused(self) -> bool:
        return self._state[1] is not None

    def _update(self) -> None:
        deadline, since = self._state
        pause = self._deciding > 0 and self._blocked > 0
        # The program is stopped before its clock, and its clock goes on before the program.
        if pause and since is None:
            if self._freeze is not None:
                self._freeze(True)
            self._state = (deadline, time.monotonic())
        elif not pause and since is not None:
            self._state = (deadline + (time.monotonic() - since), None)
            if self._freeze is not None:
                self._freeze(False)
