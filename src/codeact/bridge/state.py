"""A session's state as it crosses the sandbox boundary: opaque bytes in, a checked report out.

The guest saves and restores the state (``sandbox/guest/runtime/codeact_state.py``); the host
only holds and moves it. `StateCarry` goes in with a run request: the bytes the session holds
and the most the guest may hand back. The bytes go as base64 in the request's JSON, or raw
after it, or (``fetch``, wasm and jail) only their first `FETCH_PREFIX`: the guest asks for
the pieces it needs beyond that (`StateCarry.piece`, answering `STATE_READ`), so a value the
program never reads never enters the sandbox. `GuestState` is what came back in the guest's
report, checked field by field as everything from a guest is: the new bytes (never decoded
beyond base64: the host has no deserializer for them), their size, the names kept and the
names dropped with the reason.

A guest need not send back what it did not change: its report's ``splice`` says how the new
state is put together from the new bytes it sent and spans of the state it was given (the
values a program never touched). The host only copies those bytes, checked against both
sizes and the limit; it still reads nothing in them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from .._display import visible

__all__ = ["STATE_READ", "GuestState", "StateCarry", "report_allowance"]

#: The call a guest makes for bytes of its session's state (`StateCarry.piece`); no tool can
#: have this name (it is not an identifier): the host answers it before looking for tools.
STATE_READ = "\x00state"
#: The first bytes of a state go with the request even when the guest asks for the rest: its
#: header and small values are there (the guest lays the state out smallest first), so that
#: a small state takes no call at all and a large one only for the values a program reads.
FETCH_PREFIX = 4 << 10

_MAX_NAMES = 10_000
_MAX_NAME = 200
_MAX_REASON = 500
_NAMES_SLACK = 1 << 20  # room in the report for the lists of names and reasons
_MAX_SPLICE = 100_000  # pieces of a spliced state (the guest is told: `to_guest`)
#: The share of a call's wall time that restore may spend running the state's definitions
#: again and unpickling its values (`restore_seconds`).
RESTORE_SHARE = 0.1


def restore_seconds(wall_time: float) -> float:
    """What restore may spend of a call whose wall time is `wall_time` seconds."""
    return max(0.05, wall_time * RESTORE_SHARE)


@dataclass(frozen=True)
class StateCarry:
    """What a run of a session takes into the sandbox: the state (None: nothing yet) and the
    most bytes the guest may hand back (`Limits.state_bytes`)."""

    state: bytes | None
    limit: int
    restore_seconds: float = 3.0  # what restore may spend (`restore_seconds`)

    def to_guest(self, *, raw: bool = False, fetch: bool = False) -> dict[str, Any]:
        """The request's ``session``: the state as base64, or (`raw`) marked as following
        the request's JSON as raw bytes (see `raw_tail`), or (`fetch`) only its size: the
        guest asks for the pieces it needs (`piece`), and the rest never enters it."""
        common = {"limit": self.limit, "pieces": _MAX_SPLICE, "restore_s": self.restore_seconds}
        if fetch and self.state:
            return {"state": None, "raw": True, "fetch": len(self.state), **common}
        if raw:
            return {"state": None, "raw": True, **common}
        state = base64.b64encode(self.state).decode("ascii") if self.state else None
        return {"state": state, **common}

    def piece(self, offset: object, length: object) -> bytes | None:
        """The state's bytes a guest asked for; None if it asked for bytes it does not have."""
        size = len(self.state) if self.state else 0
        if _int(offset) is None or _int(length) is None:
            return None
        assert isinstance(offset, int) and isinstance(length, int)
        if offset + length > size:
            return None
        return self.state[offset : offset + length] if self.state else b""

    def raw_tail(self, *, fetch: bool = False) -> str:
        """What follows the request's JSON in the raw form: a NUL and the bytes as latin-1
        (with `fetch`, only the first `FETCH_PREFIX` of them)."""
        if not self.state:
            return ""
        return "\x00" + self.state[: FETCH_PREFIX if fetch else None].decode("latin-1")

    def __repr__(self) -> str:
        size = len(self.state) if self.state else 0
        return f"StateCarry({size} bytes, limit={self.limit})"


def report_allowance(carry: StateCarry | None) -> int:
    """Characters a guest's report may hold beyond its usual size for the state it returns."""
    if carry is None:
        return 0
    return 4 * (carry.limit // 3 + 1) + _NAMES_SLACK


@dataclass(frozen=True)
class GuestState:
    """The session part of a guest's report, checked. `state` is None when the guest kept
    none (the program failed, or the state was over its limit: then `over` is its size)."""

    state: bytes | None = None
    size: int = 0
    names: tuple[str, ...] = ()
    names_left_out: int = 0  # names the guest listed beyond the most a report keeps
    dropped: tuple[tuple[str, str], ...] = ()
    restore_dropped: tuple[tuple[str, str], ...] = ()
    over: int | None = None
    failed: str | None = None
    restore_ms: float = 0.0
    save_ms: float = 0.0

    @classmethod
    def from_guest(
        cls,
        raw: object,
        *,
        limit: int,
        raw_state: str | None = None,
        sent: bytes | None = None,
    ) -> GuestState | None:
        """Parse the report's ``session`` field (and the raw bytes that followed the report,
        if any); None when there is none. `sent` is the state the guest was given, that a
        ``splice`` may take spans of. A state over `limit` is refused here whatever the
        guest says of its size."""
        if not isinstance(raw, dict):
            return None
        state: bytes | None = None
        over = _int(raw.get("over"))
        encoded = raw.get("state")
        failed = _text(raw.get("failed"), _MAX_REASON) or None
        if failed is None and "failed" in raw:  # a failure the guest could not word
            failed = "it failed without saying why"
        splice = raw.get("splice")
        if splice is not None and raw_state == "" and encoded is None:
            state = b""  # every value passed through: no new bytes, only spans of `sent`
        if raw_state:
            if len(raw_state) > limit:
                over = len(raw_state)
            else:
                try:
                    state = raw_state.encode("latin-1")
                except UnicodeEncodeError:
                    failed = "the sandbox returned a state that is not bytes"
        elif isinstance(encoded, str):
            if len(encoded) > 4 * (limit // 3 + 1):
                over = len(encoded) // 4 * 3 - (len(encoded) - len(encoded.rstrip("=")))
            else:
                try:
                    state = base64.b64decode(encoded, validate=True)
                except (ValueError, binascii.Error):
                    failed = "the sandbox returned a state that is not base64"
                if state is not None and len(state) > limit:
                    over = len(state)
                    state = None
        if state is not None and splice is not None:
            state, why = _assemble(state, splice, sent or b"", limit)
            if why == "over":
                over = _spliced_size(splice)
            elif why:
                failed = f"the sandbox returned a state that does not fit together ({why})"
        return cls(
            state=state,
            size=len(state) if state is not None else (over or 0),
            names=tuple(_names(raw.get("names"))),
            names_left_out=_left_out(raw.get("names")),
            dropped=tuple(_pairs(raw.get("dropped"))),
            restore_dropped=tuple(_pairs(raw.get("restore_dropped"))),
            over=over if state is None else None,
            failed=failed,
            restore_ms=_ms(raw.get("restore_ms")),
            save_ms=_ms(raw.get("save_ms")),
        )


def _assemble(new: bytes, splice: object, sent: bytes, limit: int) -> tuple[bytes | None, str]:
    """The state `splice` describes: ``[0, n]`` the next n bytes of `new`, ``[1, offset, n]``
    n bytes of `sent` from offset. (None, why) when it does not fit together."""
    if not isinstance(splice, list) or len(splice) > _MAX_SPLICE:
        return None, "its splice is not a list of pieces"
    if _spliced_size(splice) > limit:
        return None, "over"
    parts: list[bytes | memoryview] = []
    taken = 0
    view = memoryview(sent)
    for piece in splice:
        if not isinstance(piece, list) or not all(_int(n) is not None for n in piece):
            return None, "a piece is not a list of counts"
        if len(piece) == 2 and piece[0] == 0:
            if taken + piece[1] > len(new):
                return None, "a piece runs past the new bytes"
            parts.append(new[taken : taken + piece[1]])
            taken += piece[1]
        elif len(piece) == 3 and piece[0] == 1:
            if piece[1] + piece[2] > len(sent):
                return None, "a piece runs past the state it was given"
            parts.append(view[piece[1] : piece[1] + piece[2]])
        else:
            return None, "a piece is of no known kind"
    if taken != len(new):
        return None, "some new bytes are in no piece"
    return b"".join(parts), ""


def _spliced_size(splice: list[Any]) -> int:
    return sum(
        p[-1]
        for p in splice
        if isinstance(p, list) and p and isinstance(p[-1], int) and not isinstance(p[-1], bool)
    )


def _text(value: object, limit: int) -> str:
    """A name or a reason from the guest, as the host shows it (to a person on a terminal,
    to the model): a program names its variables (``globals()["\x1b]52;..."]``), so control
    and invisible characters and line breaks are escapes, and it is cut to `limit`."""
    if not isinstance(value, str):
        return ""
    value = visible(value, newlines=False)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _names(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [_text(v, _MAX_NAME) for v in value[:_MAX_NAMES] if isinstance(v, str)]


def _left_out(value: object) -> int:
    return max(0, len(value) - _MAX_NAMES) if isinstance(value, list) else 0


def _pairs(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    return [
        (_text(v[0], _MAX_NAME), _text(v[1], _MAX_REASON))
        for v in value[:_MAX_NAMES]
        if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
    ]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _ms(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if 0 <= value < 1e9 else 0.0
