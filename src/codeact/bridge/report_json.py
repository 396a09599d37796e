"""Reading a guest's report: untrusted JSON whose integers and nesting the host bounds, and
what the host says of a report it cannot use whole.

A program may return (or exit with) an integer of thousands of digits once it lifts its own
limit (``sys.set_int_max_str_digits(0)``); JSON can write it, but the host's ``json.loads``
refuses it (and, with the host's limit off, reading a million digits takes seconds before
Python 3.12). `loads` reads such an integer as a `HugeInt` that keeps only its size, so the
rest of the report (the error, the session, the output) is kept; `value_problem` says what a
value that holds one, or nests too deep, becomes. The host's own limit is never changed.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

from .._nesting import MAX_JSON_DEPTH, too_deep

__all__ = [
    "DEFAULT_INT_DIGITS",
    "MAX_VALUE_DEPTH",
    "HugeInt",
    "loads",
    "report_too_large",
    "value_problem",
]

#: The most digits of an integer the host reads from a guest when its own limit is off.
DEFAULT_INT_DIGITS = 4300

#: How deep a program's value may nest (JSON from the guest; deeper is kept as a note).
MAX_VALUE_DEPTH = MAX_JSON_DEPTH


class HugeInt:
    """An integer in a guest's report with more digits than the host reads: only its size."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<an integer of {self.digits:,} digits>"


def _host_limit() -> int:
    get: Callable[[], int] = getattr(sys, "get_int_max_str_digits", lambda: 0)
    return get()


def _int_reader(limit: int, huge: list[HugeInt]) -> Callable[[str], int | HugeInt]:
    def read(text: str) -> int | HugeInt:
        digits = len(text) - text.startswith("-")
        if digits > limit:
            huge.append(HugeInt(digits))
            return huge[-1]
        return int(text)

    return read


def loads(text: str) -> tuple[Any, bool]:
    """`text` as JSON, and whether it held an integer of more digits than the host reads (its
    own limit, or `DEFAULT_INT_DIGITS` where that is off), each such one a `HugeInt`. Raises
    what json.loads raises for text that is not JSON."""
    limit = _host_limit()
    if limit:
        try:
            return json.loads(text), False  # the common case, at json's own speed
        except ValueError:
            pass  # not JSON, or an integer over the limit: read again to tell which
    huge: list[HugeInt] = []
    data = json.loads(text, parse_int=_int_reader(limit or DEFAULT_INT_DIGITS, huge))
    return data, bool(huge)


def value_problem(value: Any, *, huge: bool = False) -> str | None:
    """Why a value from the guest cannot be kept as it is (the note kept in its place), or
    None: it nests deeper than `MAX_VALUE_DEPTH` (host code that walks values recursively
    would fail), or (`huge`: the report held one) it holds a `HugeInt`. Walked iteratively;
    only a report with a `HugeInt` is walked item by item."""
    if too_deep(value, MAX_VALUE_DEPTH):
        return f"<a value nested more than {MAX_VALUE_DEPTH} levels deep>"
    if not huge:
        return None
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, HugeInt):
            return f"<the value holds an integer of {item.digits:,} digits>"
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


#: The start of a report that is a program's uncaught exception (or its exit status), as the
#: guest writes it, and as a jail's frame carries it (escaped once more): its type.
_REPORTED_ERROR = re.compile(
    r'(?:\["r", ")?\{\\?"(?:exit_status\\?": -?[0-9]{1,20}, \\?")?error\\?": '
    r'\{\\?"type\\?": \\?"([A-Za-z_][A-Za-z0-9_.]{0,99})\\?"'
)


def report_too_large(size: int, limit: int, head: str, unit: str = "characters") -> str:
    """What the host says of a guest's report over its limit: its size and, when its start
    (`head`) says so, that it was the program's own exception (the guest cuts an error to
    what fits: only a guest that does not is refused here)."""
    why = f"the sandbox's report was too large ({size:,} {unit}, over the limit of {limit:,})"
    match = _REPORTED_ERROR.match(head)
    if match is not None:
        why += f"; it reported the program's uncaught {match.group(1)}, too large to show"
    return why
