"""Ready-made approval handlers: approve or deny everything, ask on a terminal, or defer to an app.

Any async callable ``async def handler(request: ApprovalRequest) -> bool | Approval`` is a
handler; these cover the common cases:

* `ApproveAll` / `DenyAll`: fixed policies (`codeact exec --approve all|none`);
* `InteractiveApprover`: shows the call (or the block) on a terminal and reads y/n
  (`codeact exec --approve ask`). It reads in a daemon thread, so neither the event loop nor
  the sandbox's thread ever blocks on the terminal;
* `DeferredApprovals`: for web apps. The program waits on a pending request; the app lists
  `pending()` and answers with `approve(id)` / `deny(id)` later, from another task, another
  request, or another thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from .._display import visible
from .._loop_lock import LoopLock
from .approvals import Approval, ApprovalRequest

__all__ = ["ApproveAll", "DeferredApprovals", "DenyAll", "InteractiveApprover", "PendingApproval"]

_log = logging.getLogger("codeact.approvals")


class ApproveAll:
    """Approves every request."""

    def __init__(self, *, reason: str = "approved by policy", name: str = "approve_all") -> None:
        self.reason = reason
        self.name = name

    async def __call__(self, request: ApprovalRequest) -> Approval:
        return Approval(True, self.reason)


class DenyAll:
    """Denies every request, with `reason` (the program sees it in its ``ToolDenied``)."""

    def __init__(self, *, reason: str = "denied by policy", name: str = "deny_all") -> None:
        self.reason = reason
        self.name = name

    async def __call__(self, request: ApprovalRequest) -> Approval:
        return Approval(False, self.reason)


class InteractiveApprover:
    """Asks a person on a terminal: prints the request to `output`, reads y/n from `input`.

    One question at a time (concurrent calls wait their turn). Anything but ``y``/``yes``
    denies; so does the end of the input. A line read while no question is on the screen
    (typed after a question timed out) approves nothing. Answers may come from a pipe, one
    line per question, in order.
    """

    def __init__(
        self,
        *,
        input: IO[str] | None = None,
        output: IO[str] | None = None,
        name: str = "interactive",
    ) -> None:
        self._input = input
        self._output = output
        self.name = name
        # Questions take turns whichever event loop asks (CodeActs sharing this handler, an
        # `execute_sync` loop thread and the caller's loop): an asyncio.Lock binds to one.
        self._turn = LoopLock()
        self._state = threading.Lock()
        self._reading: concurrent.futures.Future[tuple[str, int | None]] | None = None
        self._shown: int | None = None  # the question on the screen now
        self._asked = 0

    async def __call__(self, request: ApprovalRequest) -> Approval:
        async with self._turn:
            self._asked += 1
            question = self._asked
            # `describe` escapes already; a subclass's own text is escaped here all the same.
            self._write(visible(request.describe()) + "\n  approve? [y/N] ")
            with self._state:
                self._shown = question
            try:
                while True:
                    read = self._next_line()
                    line, shown = await asyncio.shield(asyncio.wrap_future(read))
                    if shown == question or not line:
                        break  # typed while no question (or another) was shown: not an answer
            finally:
                with self._state:
                    self._shown = None
            if not self._echoed():
                self._write(line if line.endswith("\n") else line + "\n")
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return Approval(True, "approved at the terminal")
        if not line:
            return Approval(False, "no answer (the input ended)")
        return Approval(False, "declined at the terminal")

    def _echoed(self) -> bool:
        """Whether the terminal showed what was typed (answers from a pipe are not shown)."""
        stream = self._input or sys.stdin
        try:
            return stream.isatty()
        except (ValueError, OSError):
            return False

    def _write(self, text: str) -> None:
        out = self._output or sys.stderr
        out.write(text)
        out.flush()

    def _next_line(self) -> concurrent.futures.Future[tuple[str, int | None]]:
        # One reader at a time, in a daemon thread (a blocked read can neither be cancelled
        # nor be allowed to hold up the process's exit): a read left over from a question
        # that timed out is reused, never raced by a second reader for the same line.
        with self._state:
            if self._reading is None:
                future: concurrent.futures.Future[tuple[str, int | None]]
                future = concurrent.futures.Future()
                self._reading = future
                threading.Thread(
                    target=self._read, args=(future,), name="codeact-approval-input", daemon=True
                ).start()
            return self._reading

    def _read(self, future: concurrent.futures.Future[tuple[str, int | None]]) -> None:
        stream = self._input or sys.stdin
        try:
            line = stream.readline()
        except BaseException as exc:
            with self._state:
                self._reading = None
            future.set_exception(exc)
            return
        with self._state:
            self._reading = None
            shown = self._shown  # the question on the screen when the line arrived
        future.set_result((line, shown))


@dataclass(frozen=True)
class PendingApproval:
    """A request waiting for an answer: its `id`, the request, and when it was made."""

    id: str
    request: ApprovalRequest
    created: float  #: time.time() when the request was made


class DeferredApprovals:
    """A handler whose answers come later, from elsewhere (a web request, another task).

    >>> approvals = DeferredApprovals()
    >>> codeact = CodeAct(tools=[send_email], approval_handler=approvals)  # doctest: +SKIP
    >>> # elsewhere, e.g. in the handler of POST /approvals/<id>:
    >>> for item in approvals.pending():                                  # doctest: +SKIP
    ...     approvals.approve(item.id)

    `on_request` (a function or coroutine function) is told about each new request, e.g. to
    push it to a browser. The approval timeout of the CodeAct still applies; a request whose
    program ended or timed out disappears from `pending()`. `approve`/`deny`/`resolve` are
    safe to call from any thread.
    """

    name = "deferred"

    def __init__(self, *, on_request: Callable[[PendingApproval], Any] | None = None) -> None:
        self.on_request = on_request
        self._lock = threading.Lock()
        self._pending: dict[
            str, tuple[PendingApproval, asyncio.Future[Approval], asyncio.AbstractEventLoop]
        ] = {}
        self._watchers: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    async def __call__(self, request: ApprovalRequest) -> Approval:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Approval] = loop.create_future()
        item = PendingApproval(uuid.uuid4().hex, request, time.time())
        with self._lock:
            self._pending[item.id] = (item, answer, loop)
            watchers, self._watchers = self._watchers, []
        for watcher_loop, watcher in watchers:
            _settle(watcher_loop, watcher, None)
        try:
            if self.on_request is not None:
                try:
                    notified = self.on_request(item)
                    if inspect.isawaitable(notified):
                        await notified
                except Exception:
                    _log.warning("codeact: on_request of DeferredApprovals failed", exc_info=True)
            return await answer
        finally:
            with self._lock:
                self._pending.pop(item.id, None)

    def pending(self) -> list[PendingApproval]:
        """The requests waiting for an answer, oldest first."""
        with self._lock:
            return self._sorted()

    def _sorted(self) -> list[PendingApproval]:
        return sorted((entry[0] for entry in self._pending.values()), key=lambda p: p.created)

    async def wait_pending(self, timeout: float | None = None) -> list[PendingApproval]:
        """Wait until at least one request is pending (or `timeout` passes); return them."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._pending:
                return self._sorted()
            watcher: asyncio.Future[None] = loop.create_future()
            self._watchers.append((loop, watcher))
        try:
            await asyncio.wait_for(watcher, timeout)
        except asyncio.TimeoutError:
            pass
        return self.pending()

    def resolve(self, id: str, approved: bool | Approval, reason: str | None = None) -> None:
        """Answer the pending request `id`. LookupError if it is not pending (any more)."""
        with self._lock:
            entry = self._pending.pop(id, None)
        if entry is None:
            raise LookupError(
                f"no pending approval with id {id!r}: it was answered already, or its program "
                "ended or its approval timed out"
            )
        approval = approved if isinstance(approved, Approval) else Approval(bool(approved), reason)
        _, answer, loop = entry
        _settle(loop, answer, approval)

    def approve(self, id: str, reason: str | None = None) -> None:
        self.resolve(id, True, reason or "approved")

    def deny(self, id: str, reason: str | None = None) -> None:
        self.resolve(id, False, reason or "denied")


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], value: Any) -> None:
    def settle() -> None:
        if not future.done():
            future.set_result(value)

    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # that loop is closed: its program is gone
        pass
