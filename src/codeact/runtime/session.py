"""`Session`: variables, functions, classes and imports that live across `execute` calls.

A session keeps state, not a sandbox. Every call still runs in a fresh sandbox: before the
program runs, the guest restores the state the previous call left; when the program finishes,
it saves its globals again (`sandbox/guest/runtime/codeact_state.py`). The host only holds the
bytes between calls and never deserializes them (`session_state.py` seals them).

A call is a transaction: a program that fails, is stopped or is not approved leaves the state
as it was before it, and a state over `Limits.state_bytes` is not kept. Each call's result says
what happened in `ExecutionResult.session`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._checks import instance_or_none
from .._lifecycle import Closeable
from .._loop_lock import LoopLock
from ..bridge.state import GuestState, StateCarry, restore_seconds
from ..errors import ConfigurationError
from ..policy.limits import Limits
from ._sync import PrivateLoop, refuse_inside_loop, result_or_interrupted
from .events import ExecutionEvent, OutputChunk
from .session_state import check_key, process_key, seal, unseal

if TYPE_CHECKING:
    from .codeact import CodeAct
    from .result import ExecutionResult

__all__ = ["Session", "SessionReport"]

_NAMES_SHOWN = 40


@dataclass(frozen=True)
class SessionReport:
    """What one call of a session did to its state (`ExecutionResult.session`).

    `kept` is True when this call's state became the session's; otherwise the session keeps
    the state from before the call and `note` says why. `names` are the names the session
    holds after the call, sorted (at most 10,000: `names_left_out` counts the others);
    `dropped` maps each name that was left out (it could not be saved, or not restored) to
    the reason. `size` is the state's size in bytes.
    """

    kept: bool
    names: tuple[str, ...] = ()
    dropped: dict[str, str] = field(default_factory=dict)
    size: int = 0
    note: str | None = None
    names_left_out: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "names": list(self.names),
            "names_left_out": self.names_left_out,
            "dropped": dict(self.dropped),
            "size": self.size,
            "note": self.note,
        }

    def to_model_text(self) -> str:
        """The lines the model reads after the program's output."""
        lines = []
        if self.note:
            lines.append(f"[session] {self.note}")
        if self.dropped:
            shown = "; ".join(f"{name}: {why}" for name, why in list(self.dropped.items())[:20])
            lines.append(f"[session] not kept for the next call: {shown}")
        if self.kept and self.names:
            names = ", ".join(self.names[:_NAMES_SHOWN])
            more = max(0, len(self.names) - _NAMES_SHOWN) + self.names_left_out
            lines.append(
                f"[session] kept for the next call: {names}"
                + (f" and {more} more" if more > 0 else "")
            )
        return "\n".join(lines)


class Session(Closeable):
    """A series of `execute` calls that share their top-level names; made by `CodeAct.session`.

    >>> session = codeact.session()  # doctest: +SKIP
    >>> await session.execute("orders = get_orders(user_id=3)")  # doctest: +SKIP
    >>> (await session.execute("len(orders)")).value  # doctest: +SKIP
    2

    Args:
        codeact: Whose tools, backend and grants every call uses.
        limits: Limits of each call (default: the CodeAct's); ``state_bytes`` caps the state.
        state: Bytes of an earlier `Session.state` to start from, from a CodeAct on the same
            backend and this codeact version. Refused (`SessionStateError`) otherwise.
        key: The secret the state is sealed with (16+ bytes). Default: a random key of this
            process, so states restore within this process only; pass your own to keep
            states across processes.
    """

    def __init__(
        self,
        codeact: CodeAct,
        *,
        limits: Limits | None = None,
        state: bytes | None = None,
        key: bytes | None = None,
    ) -> None:
        instance_or_none("limits", limits, Limits)
        if not codeact.backend.keeps_state:
            raise ConfigurationError(
                f"the {codeact.backend.name!r} backend runs no program, so it cannot keep a "
                "session's state; use the wasm or jail backend"
            )
        self.codeact = codeact
        self.limits = limits or codeact.limits
        self._key = process_key() if key is None else check_key(key)
        self._state: bytes | None = None
        self._names: tuple[str, ...] = ()
        self._left_out = 0  # names the state holds beyond `_names`
        if state is not None:
            sealed = unseal(state, backend=codeact.backend.name, key=self._key)
            self._state, self._names = sealed.payload, tuple(sorted(sealed.names))
            self._left_out = sealed.left_out
        # Calls take turns whichever thread or event loop makes them (an asyncio.Lock would
        # bind itself to one loop).
        self._turn = LoopLock()
        self._sync = PrivateLoop(self, name="codeact-session")

    # -- the state ---------------------------------------------------------------------------
    @property
    def state(self) -> bytes:
        """The session's state, sealed: save it and pass it to ``codeact.session(state=...)``
        to go on later (with the same key and backend)."""
        return seal(
            self._state,
            names=self._names,
            backend=self.codeact.backend.name,
            key=self._key,
            left_out=self._left_out,
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The names the next call will find (as the last call that kept its state left
        them), sorted; at most 10,000 (`names_left_out` counts the others)."""
        return self._names

    @property
    def names_left_out(self) -> int:
        """How many names the state holds beyond those `names` lists."""
        return self._left_out

    @property
    def size(self) -> int:
        """Bytes of the state the session holds (0 when it holds none)."""
        return len(self._state) if self._state else 0

    async def restart(self) -> None:
        """Forget every variable, function, class and import: the next call starts empty."""
        async with self._turn:
            self._state, self._names, self._left_out = None, (), 0

    # -- running -----------------------------------------------------------------------------
    async def execute(
        self,
        code: str,
        *,
        limits: Limits | None = None,
        on_output: Callable[[OutputChunk], Any] | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
        call_id: str | None = None,
    ) -> ExecutionResult:
        """Run `code` in a fresh sandbox with the session's state restored first; keep what
        it leaves if it finishes (see `ExecutionResult.session`). Calls run one at a time.
        `on_output`, `on_event` and `call_id` are as in `CodeAct.execute`."""
        limits = instance_or_none("limits", limits, Limits) or self.limits
        async with self._turn:
            carry = StateCarry(self._state, limits.state_bytes, restore_seconds(limits.wall_time))
            result, guest = await self.codeact._execute(
                code,
                limits=limits,
                carry=carry,
                on_output=on_output,
                on_event=on_event,
                call_id=call_id,
            )
            result.session = self._settle(result, guest, limits)
            return result

    def execute_sync(
        self,
        code: str,
        *,
        limits: Limits | None = None,
        on_output: Callable[[OutputChunk], Any] | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
        call_id: str | None = None,
    ) -> ExecutionResult:
        """`execute` for code that has no event loop (runs on a private loop thread, where
        `on_output` and `on_event` are called too)."""
        refuse_inside_loop("execute_sync()", "await session.execute(...)")
        instance_or_none("limits", limits, Limits)  # here, not on the loop thread
        run = self.execute(
            code, limits=limits, on_output=on_output, on_event=on_event, call_id=call_id
        )
        future = self._sync.get().submit(run)
        return result_or_interrupted(self.codeact, future)

    def restart_sync(self) -> None:
        """`restart` for code that has no event loop: as `restart`, it waits for a call that
        is running (of `execute_sync`) to end, so that call cannot put its state back."""
        refuse_inside_loop("restart_sync()", "await session.restart()")
        self._sync.get().submit(self.restart()).result()

    def close(self) -> None:
        """Stop the private loop of `execute_sync` (the state stays readable; a session that
        is collected stops it too)."""
        self._sync.close()

    def _settle(
        self, result: ExecutionResult, guest: GuestState | None, limits: Limits
    ) -> SessionReport:
        """Keep the call's state if it may be kept; say what happened either way."""
        dropped = dict(guest.restore_dropped) if guest is not None else {}
        before = SessionReport(
            kept=False, names=self._names, size=self.size, names_left_out=self._left_out
        )
        if not result.ok:
            if result.error is not None and result.error.type == "LimitExceeded":
                why = "The program was stopped"
            elif result.error is not None and result.error.type == "KeyboardInterrupt":
                why = "The program was interrupted"
            elif result.approval is not None and result.approval.outcome == "denied":
                why = "The program was not approved"
            else:
                why = "The program failed"
            note = f"{why}, so nothing it did was kept: the variables are as before this call."
            return _replace(before, dropped=dropped, note=note)
        if guest is None or guest.failed:
            detail = f" ({guest.failed})" if guest is not None and guest.failed else ""
            note = f"The sandbox did not save the variables{detail}: they are as before this call."
            if detail.startswith(" (MemoryError"):
                note += (
                    f" Saving them needed more memory than the run's (Limits.memory_mb = "
                    f"{limits.memory_mb}): keep fewer or smaller variables, or raise it."
                )
            return _replace(before, dropped=dropped, note=note)
        dropped.update(guest.dropped)
        if guest.state is None:
            note = (
                f"The variables of this call ({_size(guest.over or guest.size)}) are over the "
                f"session's limit (Limits.state_bytes = {_size(limits.state_bytes)}) and were "
                "not kept: the variables are as before this call. Keep less (del big values, "
                "keep a summary) and run again."
            )
            return _replace(before, dropped=dropped, note=note)
        # Sorted: the guest lists them in its layout's order (smallest value first), which
        # changes with the values' sizes.
        self._state, self._names = guest.state, tuple(sorted(guest.names))
        self._left_out = guest.names_left_out
        return SessionReport(
            kept=True,
            names=self._names,
            dropped=dropped,
            size=self.size,
            names_left_out=self._left_out,
        )

    def __repr__(self) -> str:
        return (
            f"<Session of {self.codeact.backend.name!r}: {len(self._names)} names, "
            f"{self.size} bytes>"
        )


def _replace(report: SessionReport, *, dropped: dict[str, str], note: str) -> SessionReport:
    return SessionReport(
        kept=False,
        names=report.names,
        dropped=dropped,
        size=report.size,
        note=note,
        names_left_out=report.names_left_out,
    )


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
