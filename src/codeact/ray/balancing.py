"""The pool's places: which actor takes the next program, waiting for room while every
actor is full, and putting a new actor in the place of one that died.

`CodeActPool` (`codeact.ray.pool`) is a `Balancing`: it creates the places and their
actors, then takes a place for each program with `_acquire` and gives it back with
`_release`. A place whose actor is lost gets a replacement (`_replace`), which takes programs
only once it is up; a place whose replacements keep failing to start is given up. A pool
whose every place is given up refuses programs at once (`_acquire`), and wakes the callers
that were waiting for room with the same error: no caller ever waits for an actor that
cannot come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import ray

from .. import ApprovalRequest, ConfigurationError, UserError
from .relay import relay_approvals
from .worker import WorkerConfig

__all__ = ["Balancing", "Slot"]

_log = logging.getLogger("codeact.ray")

#: Replacements of one actor in a row that may fail to start before its place is given up.
_MAX_FAILED_STARTS = 3


@dataclass
class Slot:
    """One place in the pool: the actor now filling it, and the programs it is running."""

    index: int
    handle: Any
    generation: int = 0
    in_flight: int = 0
    ready: bool = False
    failed_starts: int = 0
    #: Why this place was given up (its replacements kept failing to start), or None.
    given_up: str | None = None
    #: The process and Ray node of the actor that last came up here (from its `info`).
    pid: int | None = None
    node_id: str = ""
    relay: asyncio.Future[None] | None = field(default=None, repr=False)


class Balancing:
    """The places of a pool and the actors filling them; `CodeActPool` sets the attributes."""

    max_concurrency: int
    approval_handler: Callable[[ApprovalRequest], Any] | None
    workers_lost: int  #: actors that died while serving (replaced, or their place given up)
    _slots: list[Slot]
    _turn: int
    _waiters: deque[asyncio.Future[None]]  # callers waiting for room
    _background: set[asyncio.Future[None]]
    _closed: bool
    _actor_class: Any
    _config: WorkerConfig

    def _check_open(self) -> None:
        if self._closed:
            raise UserError("this CodeActPool is closed; create a new one")

    def _check_serving(self) -> None:
        """Raise when no place can ever take a program again (every one was given up)."""
        if self._slots and all(s.given_up is not None for s in self._slots):
            raise ConfigurationError(
                f"no actor of this CodeActPool can run programs: every actor was lost and "
                f"its replacements failed to start ({self._slots[0].given_up}); fix the "
                "cause and create a new pool"
            )

    async def _acquire(self) -> Slot:
        """The ready actor with the fewest programs in flight (waits while all are full)."""
        while True:  # no await between the check and the claim: no lock needed
            self._check_open()
            self._check_serving()
            open_slots = [s for s in self._slots if s.ready and s.in_flight < self.max_concurrency]
            if open_slots:
                # Ties go round-robin, so an idle pool still spreads over every actor.
                self._turn += 1
                n = len(self._slots)
                slot = min(open_slots, key=lambda s: (s.in_flight, (s.index - self._turn) % n))
                slot.in_flight += 1
                return slot
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # pass the room it was given to the next caller
                else:
                    self._waiters.remove(waiter)
                raise

    def _release(self, slot: Slot) -> None:
        slot.in_flight -= 1
        self._wake()

    def _wake(self, *, all_of_them: bool = False) -> None:
        """Wake the longest-waiting caller (one slot freed), or all (an actor came up)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not all_of_them:
                    return

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _replace(self, slot: Slot, generation: int, exc: BaseException) -> None:
        """Put a new actor in the place of one that died while serving (once per death)."""
        if slot.generation != generation or self._closed:
            return
        self.workers_lost += 1
        _log.warning("codeact.ray: actor %d was lost (%s); starting a new one", slot.index, exc)
        self._restart(slot)

    def _restart(self, slot: Slot) -> None:
        """A new actor in `slot` (its last one died, or failed to start)."""
        with contextlib.suppress(Exception):
            ray.kill(slot.handle, no_restart=True)
        if slot.relay is not None:
            slot.relay.cancel()
        slot.handle = self._actor_class.remote(self._config)
        slot.generation += 1
        slot.ready = False
        self._spawn(self._when_ready(slot, slot.generation))

    async def _when_ready(self, slot: Slot, generation: int) -> None:
        """Give programs to a replacement only once it is up; until then the others serve."""
        try:
            info = await slot.handle.info.remote()
        except Exception as exc:
            if slot.generation != generation or self._closed:
                return
            slot.failed_starts += 1
            if slot.failed_starts < _MAX_FAILED_STARTS:
                self._restart(slot)
                return
            slot.given_up = _one_line(exc)
            _log.error("codeact.ray: actor %d cannot be replaced: %s", slot.index, exc)
            # Callers waiting for room learn now if no place is left to give it.
            self._wake(all_of_them=True)
            return
        slot.failed_starts = 0
        if slot.generation == generation and not self._closed:
            dead = slot.pid if slot.node_id == info.node_id else None
            slot.pid, slot.node_id = info.pid, info.node_id
            if dead is not None:  # killed: its exit handlers never removed its folders
                self._spawn(_remove_folders(slot.handle, dead))
            slot.ready = True
            self._start_relay(slot)
            self._wake(all_of_them=True)

    def _start_relay(self, slot: Slot) -> None:
        if self.approval_handler is not None:
            slot.relay = self._spawn(
                relay_approvals(slot.handle, self.approval_handler, self._spawn)
            )


async def _remove_folders(handle: Any, pid: int) -> None:
    """Ask the actor `handle` to remove the folders of the dead actor `pid` of its node."""
    try:
        await handle.remove_folders_of.remote(pid)
    except Exception as exc:  # left for the next process of that node, an hour later
        _log.warning("codeact.ray: the folders of dead actor %d stay: %s", pid, exc)


def _one_line(exc: BaseException) -> str:
    """The last line of an error (Ray's carry the remote traceback before it)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    # "codeact.errors.ConfigurationError: ..." -> "ConfigurationError: ..."
    return re.sub(r"^(?:\w+\.)+(\w+: )", r"\1", lines[-1]) if lines else type(exc).__name__
