"""`ProgramContext`: what the calls of one running program share, and who watches them.

The program's code and the records of its calls so far, the grants an up-front approval left,
the caps on its approval requests (`Limits.approval_denials`, `Limits.approval_wait`) and on
the arguments its unfinished calls hold (`IN_FLIGHT_ARGUMENTS`), and the hook that stops its
wall-time clock while a person decides. `CallWatcher` is told about
each call as it starts and ends (traces and live events).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from ..bridge.protocol import ExecutionStopped, ToolCallRecord
from ..policy.limits import Limits
from .site_grants import Site, SiteGrants
from .sizes import in_flight_error

__all__ = ["IN_FLIGHT_ARGUMENTS", "CallWatcher", "ProgramContext"]

#: How many times `Limits.tool_argument_bytes` the JSON arguments of one program's calls not
#: yet finished (started with ``call_tool_async``, or waiting in threads) may hold together.
#: The host keeps each one's parse while it runs, several times the text's size: without a
#: cap, a program of 256 MiB that started 200 calls of 4 MB drove the host to 3-4 GB.
IN_FLIGHT_ARGUMENTS = 4

#: Seconds between looks for a free approval slot (only while `Limits.approval_denials`
#: requests are refused or open).
_APPROVAL_SLOT_POLL = 0.01
_APPROVAL_CLOSE_POLL = 0.001


class CallWatcher(Protocol):
    """Told about the calls of one program as they happen (traces and live events use it).

    Called on whatever thread the call runs on; implementations must be quick and thread-safe
    and must not raise.
    """

    def call_started(self, record: ToolCallRecord) -> None: ...

    def call_ended(self, record: ToolCallRecord, result: str | None) -> None: ...

    def approval_waited(
        self, call: ToolCallRecord | None, started_ns: int, ended_ns: int, approved: bool, by: str
    ) -> None:
        """A wait for an approval of `call` (the record of that one call; None: the whole
        block, before it ran) ended: `approved` or not, by `by`."""


class ProgramContext:
    """What the middlewares of nested calls know about the running program.

    `code` is the program, `calls` the records of its calls so far (shared with the bridge),
    `run_id` the id in every record. Up-front approvals leave grants here: a number of calls
    per tool (None: any number) that run without asking again, or the call sites a person
    was shown (`grant_sites`).
    """

    def __init__(self, code: str, *, run_id: str | None = None) -> None:
        self.code = code
        self.run_id = run_id
        self.calls: list[ToolCallRecord] = []
        self._grants: dict[str, int | None] = {}
        self._sites = SiteGrants()
        self._grant_all = False
        self._lock = threading.Lock()
        self._on_wait: Callable[[bool], None] | None = None
        self._settled: set[int] = set()  # ids of the records already settled and audited
        #: Told about each call as it starts and ends (None: nobody is watching).
        self.watcher: CallWatcher | None = None
        self._approval_limits: Limits | None = None  # set by the bridge: this run's limits
        self._approval_stop: Callable[[float | None], ExecutionStopped] | None = None
        self._approvals_refused = 0
        self._approvals_open = 0  # requests asked and not answered yet
        self._approval_waited = 0.0
        self._arguments_limit: int | None = None  # set by the bridge: see limit_arguments
        self._held: dict[int, int] = {}  # id(record) -> bytes of arguments its call holds
        #: Bytes of JSON arguments the calls not settled yet hold.
        self.arguments_held = 0

    def limit_arguments(self, limits: Limits) -> None:
        """Cap the bytes of JSON arguments this program's unfinished calls hold together at
        `IN_FLIGHT_ARGUMENTS` times `Limits.tool_argument_bytes` (`hold_arguments`)."""
        self._arguments_limit = IN_FLIGHT_ARGUMENTS * limits.tool_argument_bytes

    def arguments_fit(self, size: int) -> bool:
        """Whether a call's `size` bytes of arguments fit beside those held now (a look before
        parsing them; `hold_arguments` decides)."""
        limit = self._arguments_limit
        return limit is None or self.arguments_held + size <= limit

    def hold_arguments(self, record: ToolCallRecord, size: int) -> str | None:
        """Count `size` bytes of arguments as held by `record`'s call until it is settled;
        or, when the calls not settled would hold more than the cap with them, why the call
        is refused (nothing counted)."""
        with self._lock:
            limit, held = self._arguments_limit, self.arguments_held
            if limit is not None and held + size > limit:
                return in_flight_error(record.name, held, size, limit, IN_FLIGHT_ARGUMENTS)
            self.arguments_held = held + size
            self._held[id(record)] = size
            return None

    def limit_approvals(
        self, limits: Limits, stop: Callable[[float | None], ExecutionStopped]
    ) -> None:
        """Cap the approval requests of this program that may end unapproved
        (`Limits.approval_denials`) and their total wait (`Limits.approval_wait`); past either,
        `stop(seconds waited, or None when the count ran out)` is raised."""
        self._approval_limits = limits
        self._approval_stop = stop

    async def approval_starts(self) -> float | None:
        """Before one approval request: the seconds it may still wait (None: no cap), or the
        program is stopped (`ExecutionStopped`) because it asked too often or waited too long.

        Requests in flight count as if they will be refused: with `Limits.approval_denials`
        requests refused or still open, the next waits for one to end (calls started together
        with ``asyncio.gather`` would otherwise all be asked before any answer came back)."""
        limits, stop = self._approval_limits, self._approval_stop
        if limits is None or stop is None:
            with self._lock:
                self._approvals_open += 1
            return None
        while True:
            with self._lock:
                refused, waited = self._approvals_refused, self._approval_waited
                if refused >= limits.approval_denials:
                    raise stop(None)
                left = limits.approval_wait - waited
                if left <= 0:
                    raise stop(waited)
                if refused + self._approvals_open < limits.approval_denials:
                    self._approvals_open += 1
                    return left
            await asyncio.sleep(_APPROVAL_SLOT_POLL)

    def approval_ended(self, seconds: float, *, approved: bool) -> None:
        """After one approval request (`approval_starts`): `seconds` waited count against
        `Limits.approval_wait`, and one not approved against `Limits.approval_denials`."""
        with self._lock:
            self._approvals_open -= 1
            self._approval_waited += seconds
            if not approved:
                self._approvals_refused += 1

    async def approvals_closed(self, timeout: float) -> None:
        """Once the program has ended and its calls were cancelled: wait (at most `timeout`
        seconds) until none of its approval requests is still open. A cancelled wait reaches
        the handler a few loop turns later; until then a `DeferredApprovals` request would
        still be pending, and an answer to it accepted for a program that is gone."""
        waited = 0.0
        while self._approvals_open > 0 and waited < timeout:
            await asyncio.sleep(_APPROVAL_CLOSE_POLL)
            waited += _APPROVAL_CLOSE_POLL

    def approval_overdue(self) -> ExecutionStopped | None:
        """The stop to raise if the total approval wait is used up (None while it is not)."""
        limits, stop = self._approval_limits, self._approval_stop
        if limits is None or stop is None or self._approval_waited < limits.approval_wait:
            return None
        return stop(self._approval_waited)

    def unsettled(self, records: list[ToolCallRecord]) -> list[ToolCallRecord]:
        """Those of `records` not settled yet (calls still in flight)."""
        with self._lock:
            return [r for r in records if id(r) not in self._settled]

    def settle_once(self, record: ToolCallRecord) -> bool:
        """True the first time it is asked about `record`: a call is settled and audited once,
        even when a limit ends it on one thread while it finishes on another."""
        with self._lock:
            if id(record) in self._settled:
                return False
            self._settled.add(id(record))
            self.arguments_held -= self._held.pop(id(record), 0)
            return True

    def grant(self, grants: Mapping[str, int | None], *, every_call: bool = False) -> None:
        """Pre-approve calls: ``{"send_email": 2}``; `every_call` pre-approves every gated call."""
        with self._lock:
            self._grant_all = self._grant_all or every_call
            for name, count in grants.items():
                if count is None or self._grants.get(name, 0) is None:
                    self._grants[name] = None
                else:
                    self._grants[name] = int(self._grants.get(name) or 0) + int(count)

    def grant_sites(self, sites: Mapping[str, Iterable[Site]]) -> None:
        """Pre-approve the call sites a person read (`codeact.calls.site_grants`): a call
        that matches none of them (a hidden one) cannot use up their grant."""
        with self._lock:
            for name, shown in sites.items():
                self._sites.add(name, shown)

    def take_grant(self, name: str, arguments: Mapping[str, Any] | None = None) -> bool:
        """Use up one pre-approved call of `name` with `arguments`, if one is left."""
        with self._lock:
            if self._grant_all:
                return True
            if name in self._sites and self._sites.take(name, arguments):
                return True
            if name not in self._grants:
                return False
            left = self._grants[name]
            if left is None:
                return True
            if left <= 0:
                return False
            self._grants[name] = left - 1
            return True

    def bind_clock(self, on_wait: Callable[[bool], None]) -> None:
        """The bridge's hook: called with True when a person starts deciding, False when done."""
        self._on_wait = on_wait

    @contextlib.contextmanager
    def person_deciding(self) -> Iterator[None]:
        """Around a wait for a person: the program's wall-time clock stops while it blocks."""
        hook = self._on_wait
        if hook is not None:
            hook(True)
        try:
            yield
        finally:
            if hook is not None:
                hook(False)
