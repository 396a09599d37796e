"""What bounds a tool result's conversion to JSON (`codeact.tools.results`), and how it ends
when one is passed: its size (`max_bytes`), its deadline, the call being over (`stop`), and a
value that holds itself.

`_Budget` is one conversion's account of them: what is left of `max_bytes`, the deadline and
the stop event (looked at before code of the value's own runs, and every `_EVERY` containers
otherwise), and the containers being converted now (``id -> path``), so that one met again
inside itself is said so at once, whatever its kind: a list, a dict, a model, a deque, a
dict's view, a generator or any object with ``__iter__``.
"""

from __future__ import annotations

import threading
import time

__all__ = [
    "ResultContainsItself",
    "ResultConversionError",
    "ResultConversionTimeout",
    "ResultTooLargeError",
]

_EVERY = 64  # containers converted between two looks at the clock (one takes ~50 ns)


class ResultConversionError(TypeError):
    """A tool's return value contains something that has no JSON form."""


class ResultTooLargeError(ResultConversionError):
    """The JSON of a value converted with `max_bytes` would be longer: the conversion stopped
    there (an iterator is consumed no further)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"its JSON would be longer than {max_bytes:,} bytes")
        self.max_bytes = max_bytes


class ResultContainsItself(ResultConversionError):
    """A value holds itself (a list, dict, model, dataclass or any container in it is one that
    holds it): its JSON would never end. `where`: one such place (``result[0] is result``)."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"it contains itself ({where}), and a value that holds itself has no JSON form: "
            "return one without the loop (a copy, or ids in place of the objects)"
        )
        self.where = where


class _NestedTooDeep(ResultConversionError):
    """Nested more than `MAX_JSON_DEPTH` levels."""


class ResultConversionTimeout(ResultConversionError):
    """A conversion with a `deadline` was still running at it, or its call was over (`stop`):
    the value was consumed no further."""


class _Loop(Exception):
    """A container met again inside itself: at `inner`, first at `outer` (full paths)."""

    def __init__(self, inner: str, outer: str) -> None:
        super().__init__(inner, outer)
        self.inner, self.outer = inner, outer


class _Budget:
    """What is left of `max_bytes`, counted down by a lower bound of each part's JSON (a part
    is counted once converted; a container's brackets and separators when it starts); the
    deadline and `stop`; and `above`, the containers whose conversion is under way."""

    __slots__ = ("above", "countdown", "deadline", "left", "limit", "stop")

    def __init__(self, limit: int, deadline: float | None, stop: threading.Event | None) -> None:
        self.limit = self.left = limit
        self.deadline = deadline
        self.stop = stop
        self.countdown = _EVERY
        self.above: dict[int, str] = {}

    def check(self) -> None:
        if self.left < 0:
            raise ResultTooLargeError(self.limit)

    def tick(self) -> None:
        """Before code of the value's own runs: over the limit, past the deadline, or is the
        call over?"""
        if self.left < 0:
            raise ResultTooLargeError(self.limit)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ResultConversionTimeout("its conversion to JSON ran past the call's timeout")
        if self.stop is not None and self.stop.is_set():
            raise ResultConversionTimeout("its call was over before its conversion to JSON")

    def items(self, count: int) -> None:
        """A container of `count` items starts: its brackets and separators (``", "``); and,
        every `_EVERY` containers, the deadline and `stop` are looked at (a value that shares
        its parts may be small, and its JSON endless)."""
        self.left -= 2 * count if count else 2
        self.countdown -= 1
        if self.countdown <= 0:
            self.countdown = _EVERY
            self.tick()
        self.check()

    def enter(self, value: object, where: str) -> int:
        """The conversion of container `value` (at `where`) starts: `_Loop` if it is one of
        those it is inside. Returns its id, for `leave`."""
        ident = id(value)
        outer = self.above.get(ident)
        if outer is not None:
            raise _Loop(where, outer)
        self.above[ident] = where
        return ident

    def leave(self, ident: int) -> None:
        del self.above[ident]
