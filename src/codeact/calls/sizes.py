"""Sizes checked before work: how large a value's JSON would be, found without building it.

A program's call arguments and a tool's result can be as large as the guest's memory (or
larger: a tool may return anything). The host must know a value is too large *before* it
copies, converts or encodes it, and must keep only a bounded copy of what it records.

`json_size_over(value, limit)` walks the value once, iteratively (no recursion limit to hit),
adding a lower bound of each part's JSON size, and stops as soon as the total passes `limit`:
its cost is bounded by `limit`, not by the value. `bounded_copy(value)` is what a call record
keeps: the value itself when small, else a summary with long strings and lists cut.
`argument_size_error` refuses a call's JSON arguments on their length, or on the lists and
objects they hold (`ARGUMENT_CONTAINERS`), before anything parses them; `ResultTooLarge` is how
a result over its limit ends the call. Both messages name the limit
(`Limits.tool_argument_bytes`, `Limits.tool_result_bytes`) and how to stay under it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._display import utf8_safe
from .._nesting import MAX_JSON_DEPTH, ContainsItself, cycle_in, too_deep

__all__ = [
    "ARGUMENT_CONTAINERS",
    "MESSAGE_CHARS",
    "RECORD_CHARS",
    "ResultTooLarge",
    "argument_size_error",
    "bounded_copy",
    "bounded_message",
    "in_flight_error",
    "json_size_over",
    "unshared",
]

#: About how many characters of a call's arguments a record keeps (the rest is summarized).
RECORD_CHARS = 8 * 1024
_STRING_CHARS = 512  # a string longer than this is cut in a summarized record
_ITEMS = 32  # items of a list or object kept in a summarized record
_DEPTH = 8  # levels kept in a summarized record
_SCALARS = (int, float, bool, type(None))
_PLAIN = frozenset((str, int, float, bool, type(None)))
_SHALLOW_TEXT = 2 * (MAX_JSON_DEPTH + 1)  # JSON text shorter than this nests at most the limit


def json_size_over(value: Any, limit: int) -> bool:
    """True if `value`'s JSON text is certainly longer than `limit` characters.

    Counts strings (at least their length plus quotes), bytes, numbers and containers (at least
    their brackets and separators); other objects count a little (their conversion is checked
    on the encoded text afterwards). Stops as soon as the count passes `limit`, also inside a
    mapping or a sequence of a class of its own (whose len() is not trusted, whose items may
    never end). Never consumes an iterator: `to_json_value`'s `max_bytes` bounds those.
    """
    kind = type(value)
    if kind in _SCALARS:  # most results: no walk (and no ABC check below)
        return limit < 2
    if kind is str:
        return len(value) + 3 > limit
    total = 0
    stack: list[Any] = [value]
    # A value that holds itself would be walked around and around until the count passes the
    # limit (seconds, and then the limit named as what to raise): the walk of such a value
    # repeats, so the item popped at each power of two is kept (`mark`) and one popped again
    # is looked into (`_again`), at the cost of a comparison an item (Brent's cycle finding).
    pops, next_mark, mark = 0, 1, _NOTHING
    while stack:
        item = stack.pop()
        pops += 1
        if item is mark:
            mark = _again(value, limit)
        elif pops == next_mark:
            mark, next_mark = item, 2 * next_mark
        kind = type(item)
        if kind is dict or kind is list or kind is tuple:
            # The common containers: their plain items counted here, not pushed and popped.
            total += 2 + len(item)
            if total > limit:
                return True
            children = item.values() if kind is dict else item
            if kind is dict:
                for key in item:
                    if isinstance(key, str):
                        total += len(key) + 3
            for child in children:
                child_kind = type(child)
                if child_kind is str:
                    total += len(child) + 3
                elif child_kind in _SCALARS:
                    total += 2
                else:
                    stack.append(child)
        elif isinstance(item, (str, bytes, bytearray, memoryview)):
            total += len(item) + 3
        elif isinstance(item, Mapping):  # its own len() and items(): counted as they go
            total += 2
            for key, child in item.items():
                total += len(key) + 4 if isinstance(key, str) else 1
                stack.append(child)
                if total > limit:
                    return True
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2
            for child in item:
                total += 1
                stack.append(child)
                if total > limit:
                    return True
        else:
            total += 2  # a number, a bool, None, or an object converted later: at least 1
        if total > limit:
            return True
    return False


_NOTHING = object()  # json_size_over's `mark` before the first, and once it stops looking


def _again(value: Any, limit: int) -> object:
    """Something of `value` was walked again: raise `ContainsItself` if that is because
    `value` holds itself; else it is only shared (it counts again, as JSON writes it again)
    and `_NOTHING`, so that the walk goes on without looking again. `value` is walked once
    for this, each container once and at most as many as `limit` could hold (a value with
    more is over the limit whatever else it is)."""
    found = cycle_in(value, "result", most=limit // 2)
    if found is not None:
        raise ContainsItself(found)
    return _NOTHING


def _size(n: int) -> str:
    """A size limit as people read it, exactly: 16 MiB, 512 KiB, 1,000 bytes, 1 byte."""
    if n and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n and n % 1024 == 0:
        return f"{n >> 10} KiB"
    return "1 byte" if n == 1 else f"{n:,} bytes"


class ResultTooLarge(Exception):
    """A tool's result is over `Limits.tool_result_bytes` (it was not converted nor copied).
    `size`: its JSON's size, or None when it was found over the limit without encoding it."""

    def __init__(self, name: str, limit: int, size: int | None) -> None:
        what = f"{size:,} bytes of JSON, over" if size is not None else "larger as JSON than"
        super().__init__(
            f"the result of {name}() is {what} the limit "
            f"(Limits.tool_result_bytes={_size(limit)}): have the tool return less "
            "(e.g. a page or a summary), or raise the limit"
        )


#: The most lists and objects one call's JSON arguments may hold. Parsed, each costs the host
#: 60-100 bytes and its share of every garbage collection, 20-30 times its two characters of
#: text: 4 MB of ``[[], [], ...]`` took 0.5-2 s of parsing and validating with the GIL held,
#: and 110 MB. Counted on the text, before it is parsed: its ``[`` and ``{`` outside strings.
ARGUMENT_CONTAINERS = 100_000

# A JSON string, or one left open at the end of the text (so that no match ever fails: the
# search stays linear however the quotes fall).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)


def argument_size_error(name: str, arguments: str | bytes, limit: int) -> str | None:
    """Why a call's JSON arguments are refused for their size, or None: checked on the text,
    before anything parses it (`Limits.tool_argument_bytes`, then `ARGUMENT_CONTAINERS`)."""
    size = len(arguments)
    if size <= limit and isinstance(arguments, str) and size * 4 > limit:
        size = len(arguments.encode("utf-8", "surrogatepass"))  # may be over: count bytes
    if size > limit:
        return (
            f"the arguments of {name}() are {size:,} bytes of JSON or more, over the limit "
            f"(Limits.tool_argument_bytes={_size(limit)}): pass less data per call (e.g. in "
            "pages, or a reference the tool can look up), or raise the limit"
        )
    if len(arguments) <= ARGUMENT_CONTAINERS:  # fewer characters than that: fewer lists
        return None
    return _containers_error(name, arguments)


def _containers_error(name: str, text: str | bytes) -> str | None:
    """Why `text` holds too many lists and objects (`ARGUMENT_CONTAINERS`), or None.

    ``str.count`` first (C speed: 1-2 ms for 4 MB); only when the brackets are more than the
    limit are the strings taken out and the rest counted again. Taking out each string costs
    about a microsecond, so that is done only for texts with at most `ARGUMENT_CONTAINERS`
    quotes (about half as many strings): in a text with more, every bracket counts."""
    limit = ARGUMENT_CONTAINERS
    if isinstance(text, bytes):  # a direct call's: read as text, as json.loads would
        text = text.decode("utf-8", "replace")
    if text.count("[") + text.count("{") <= limit:
        return None
    searched = text.count('"') - text.count('\\"') <= limit
    if searched:
        rest = _STRING.sub("", text)
        if rest.count("[") + rest.count("{") <= limit:
            return None
    how = (
        ""
        if searched
        else f"; in a text with more than {limit:,} quotes, brackets inside strings count too"
    )
    return (
        f"the arguments of {name}() hold more than {limit:,} lists and objects, more than "
        f"one call may pass{how}: pass such data as fewer, larger values (e.g. a table as "
        "columns, or as text), or over several calls"
    )


def in_flight_error(name: str, held: int, size: int, limit: int, times: int) -> str:
    """Why a call is refused while the program's unfinished calls hold `held` bytes of
    arguments: with its own `size`, more than `limit` (`times` the argument limit)."""
    return (
        f"{name}() was not started: the calls this program has not finished hold {held:,} "
        f"bytes of arguments, and with this one's {size:,} they would hold more than "
        f"{_size(limit)} ({times} x Limits.tool_argument_bytes): await some of them before "
        "starting more, or pass less data per call"
    )


#: The longest error message a call's record keeps and its caller gets (characters).
MESSAGE_CHARS = 4000


def bounded_message(text: str, *, chars: int = MESSAGE_CHARS) -> str:
    """`text` cut past `chars`, saying how much was left out. Error messages quote what the
    program sent (an unexpected argument's name, a value a validator or the tool itself
    repeats), so their size is the program's choice: cut once, where every call ends."""
    if len(text) > chars:
        text = f"{text[:chars]}…[{len(text) - chars} more chars]"
    return utf8_safe(text)  # lone surrogates escaped: a file or a trace can keep it


def bounded_copy(value: Any, *, chars: int = RECORD_CHARS, parsed_from: int | None = None) -> Any:
    """`value` when its JSON is at most about `chars` long and it nests at most
    `MAX_JSON_DEPTH` levels; else a summary of it that is (what reads a record, `json.dumps`
    or `repr`, recurses).

    The summary keeps the shape: strings cut to a prefix and ``…[N more chars]``, lists and
    objects to their first items and a ``"…"`` marker saying how many were left out, deep
    levels replaced by ``"…"``. Never recurses, so any nesting is safe.

    `parsed_from`: the length of the JSON text `value` was parsed from, if it was. Encoded
    again, no character of that text takes more than 12 (a character outside the BMP as two
    ``\\uXXXX``), so a text up to `chars` / 12 long is kept without walking the value for its
    size; and one shorter than two characters a level cannot nest too deep."""
    if parsed_from is not None and parsed_from * 12 <= chars:
        if parsed_from < _SHALLOW_TEXT or not too_deep(value):
            return value
    else:
        try:
            if not json_size_over(value, chars) and not too_deep(value):
                return value
        except ContainsItself:  # summarized: its levels past `_DEPTH` are cut
            pass
    budget = [chars]
    return _summary(value, budget)


def unshared(value: Any) -> Any:
    """`value` with the dicts and lists inside it copied (their other items shared): what a
    record keeps of arguments whose parse went on to the tool, which may change it. A dict of
    plain values is kept as it is (a tool receives its values, never the dict itself)."""
    if type(value) is not dict or _PLAIN.issuperset(map(type, value.values())):
        return value
    root = dict(value)
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if _PLAIN.issuperset(map(type, item.values() if type(item) is dict else item)):
            continue
        for key in item.keys() if type(item) is dict else range(len(item)):
            kind = type(item[key])
            if kind is dict or kind is list:
                item[key] = copy = kind(item[key])
                stack.append(copy)
    return root


def _summary(value: Any, budget: list[int]) -> Any:
    # Iterative: a work stack of (source, target container, key) triples.
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]
    while stack:
        item, target, key, depth = stack.pop()
        target[key] = _summary_one(item, stack, depth, budget)
    return root[0]


def _summary_one(
    item: Any, stack: list[tuple[Any, Any, Any, int]], depth: int, budget: list[int]
) -> Any:
    if budget[0] <= 0:
        return "…"
    if isinstance(item, str):
        if len(item) > _STRING_CHARS:
            budget[0] -= _STRING_CHARS
            return f"{item[:_STRING_CHARS]}…[{len(item) - _STRING_CHARS} more chars]"
        budget[0] -= len(item) + 2
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        budget[0] -= 16
        return f"<{len(item)} bytes>"
    if isinstance(item, (bool, int, float)) or item is None:
        budget[0] -= 8
        if isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 64:
            return f"<an integer of {item.bit_length()} bits>"
        return item
    if depth >= _DEPTH:
        budget[0] -= 1
        return "…"
    if isinstance(item, Mapping):
        out: dict[str, Any] = {}
        for index, (name, child) in enumerate(item.items()):
            if index >= _ITEMS:
                out["…"] = f"{len(item) - _ITEMS} more keys"
                break
            name = str(name)[:_STRING_CHARS]
            out[name] = None
            stack.append((child, out, name, depth + 1))
        budget[0] -= 2
        return out
    if isinstance(item, (list, tuple)):
        kept = list(item[:_ITEMS])
        items: list[Any] = [None] * len(kept)
        for index, child in enumerate(kept):
            stack.append((child, items, index, depth + 1))
        if len(item) > _ITEMS:
            items.append(f"…{len(item) - _ITEMS} more items")
        budget[0] -= 2
        return items
    budget[0] -= 16
    return f"<{type(item).__name__}>"
