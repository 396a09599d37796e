"""How deep JSON from a program or a model may nest, checked without recursing.

A program's tool arguments, its value and its HTTP requests, a model's tool calls and
replies: the host reads them with `json.loads` and then walks them with code that recurses
(schema validators, redaction, `json.dumps`, `repr`, a framework's own code). Nested deep
enough, any of those raises RecursionError, which is no answer to give a program or a model,
and which may escape code that expects a parser's ValueError. So such JSON is read here:

* `loads_within(text)` is `json.loads(text)` that refuses a value nested more than
  `MAX_JSON_DEPTH` levels with `TooDeep`, a ValueError (never a RecursionError), so the
  caller's ``except ValueError`` for text that is not JSON covers it too;
* `raw_decode_within(decoder, text, start)` is the same for `JSONDecoder.raw_decode`;
* `too_deep(value)` tells whether a value already parsed nests deeper, walking it
  iteratively; `may_nest_deeper(text)`, whether its text has the brackets to, without one.

A model's program is read on the host too (the static scan of the tools it calls, the
agent's checks): `parse_program(code)` is `ast.parse(code)` that raises SyntaxError for a
program nested too deep for the host's parser (which raises MemoryError or RecursionError),
so it is read as one that does not parse; the sandbox runs it, or reports it, itself.

Levels count containers: ``[]`` is 1 level, ``{"a": [1]}`` is 2. A tool's arguments may
nest `MAX_ARGUMENT_DEPTH` levels: the arguments object itself, and `MAX_JSON_DEPTH` in each
argument (as far as pydantic's own JSON parser reads, for tools made from functions).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = [
    "ARGUMENTS_TOO_DEEP",
    "MAX_ARGUMENT_DEPTH",
    "MAX_EMBEDDED_ATTEMPTS",
    "MAX_JSON_DEPTH",
    "ContainsItself",
    "TooDeep",
    "cycle_in",
    "embedded_json",
    "loads_within",
    "may_nest_deeper",
    "nests_deeper",
    "parse_program",
    "raw_decode_within",
    "too_deep",
]

#: How many levels a value from a program or a model may nest: a tool's argument, the
#: program's value (`ExecutionResult.value`), a tool's result converted to JSON.
MAX_JSON_DEPTH = 200

#: How many levels a tool call's arguments may nest: the object, and `MAX_JSON_DEPTH` in each.
MAX_ARGUMENT_DEPTH = MAX_JSON_DEPTH + 1


_CONTAINERS = (dict, list, tuple)
_PLAIN = frozenset((str, int, float, bool, type(None)))

#: Why a tool call's arguments are refused (the program or the model is told this).
ARGUMENTS_TOO_DEEP = f"arguments nested too deep (more than {MAX_JSON_DEPTH} levels)"


class TooDeep(ValueError):
    """JSON nested more than `limit` levels."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        self.limit = limit
        super().__init__(f"JSON nested too deep (more than {limit} levels)")


class ContainsItself(ValueError):
    """A value holds itself (a list or dict inside it is one that holds it): its JSON would
    never end. `where`: the path of one such place (``result[0] is result``), when known."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        super().__init__(f"it contains itself ({where})" if where else "it contains itself")


def cycle_in(value: Any, where: str = "value", *, most: int | None = None) -> str | None:
    """Where `value` holds itself (``value['a'][0] is value``), or None: the mappings, lists
    and tuples in it (and dataclass instances' fields) walked without recursion, each once, so a
    value that shares parts costs no more than one that does not; `most`: walk at most that
    many containers (a value with more has JSON larger than that anyway), then say None."""
    above: dict[int, int] = {}  # the containers above the item walked now: id -> level
    keys: list[str] = []  # the path to it, one key a level
    done: set[int] = set()
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, key, level = stack.pop()
        while len(keys) > level:  # the containers below `level` are all walked
            keys.pop()
            done.add(above.popitem()[0])  # (a dict keeps the order they were entered in)
        ident = id(item)
        if ident in above:
            inner = where + "".join(keys[1:]) + key
            return f"{inner} is {where}{''.join(keys[1 : above[ident] + 1])}"
        if ident in done:
            continue
        if isinstance(item, Mapping):
            children = [(f"[{k!r}]", v) for k, v in item.items()]
        elif isinstance(item, (list, tuple)):
            children = [(f"[{i}]", v) for i, v in enumerate(item)]
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            names = [f.name for f in dataclasses.fields(item)]
            children = [(f".{n}", getattr(item, n, None)) for n in names]
        else:
            continue
        if most is not None:
            most -= 1
            if most < 0:
                return None
        above[ident] = level
        keys.append(key)
        stack.extend((child, at, level + 1) for at, child in reversed(children) if _walked(child))
    return None


def _walked(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` (dicts, lists and tuples of anything) nests more than `limit` levels.

    Walked level by level, without recursion: any nesting is safe to ask about. A container
    of plain values only (most of a large value) is passed over without looking at each."""
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            if not _PLAIN.issuperset(map(type, children)):
                below.extend([child for child in children if isinstance(child, _CONTAINERS)])
        level = below
    return False


def may_nest_deeper(text: str | bytes, limit: int) -> bool:
    """Whether JSON `text` has the characters to nest more than `limit` levels: each takes a
    ``[`` or ``{``, and a ``]`` or ``}``. Counted in C (a few ms for 4 MB, where walking the
    parse for its depth takes tens)."""
    if len(text) < 2 * (limit + 1):
        return False
    if isinstance(text, str):
        return text.count("[") + text.count("{") > limit
    return text.count(b"[") + text.count(b"{") > limit


def nests_deeper(text: str | bytes, value: Any, limit: int) -> bool:
    """Whether `value`, parsed from JSON `text`, nests more than `limit` levels (walked only
    when the text has the brackets to)."""
    return may_nest_deeper(text, limit) and too_deep(value, limit)


def _refuse_too_deep(value: Any, text_size: int, limit: int) -> None:
    # Each level takes two characters of JSON text (its brackets): a text shorter than
    # 2 * (limit + 1) characters cannot nest more than `limit` levels, and is not walked.
    if text_size >= 2 * (limit + 1) and too_deep(value, limit):
        raise TooDeep(limit)


def loads_within(
    text: str | bytes,
    *,
    limit: int = MAX_JSON_DEPTH,
    loads: Callable[[Any], Any] = json.loads,
) -> Any:
    """`loads(text)` (default `json.loads`), refusing a value nested more than `limit` levels
    with `TooDeep` (a ValueError) instead of returning it or raising RecursionError."""
    try:
        value = loads(text)
    except RecursionError:
        raise TooDeep(limit) from None
    _refuse_too_deep(value, len(text), limit)
    return value


def raw_decode_within(
    decoder: json.JSONDecoder, text: str, start: int = 0, *, limit: int = MAX_JSON_DEPTH
) -> tuple[Any, int]:
    """`decoder.raw_decode(text, start)`, refusing a value nested more than `limit` levels
    with `TooDeep` (a ValueError) instead of returning it or raising RecursionError."""
    try:
        value, end = decoder.raw_decode(text, start)
    except RecursionError:
        raise TooDeep(limit) from None
    _refuse_too_deep(value, end - start, limit)
    return value, end


#: Where a JSON value may start inside text: an object with a key, or a list of values that
#: are objects, lists or strings ("{{{{" and "[[[[" are never tried: each failed decode
#: counts the lines before it, which made a 300,000-brace reply quadratic).
_EMBEDDED_START = re.compile(r'\{(?=\s*")|\[(?=\s*["{\[])')
#: The most places of one text `embedded_json` tries to decode at.
MAX_EMBEDDED_ATTEMPTS = 1000


def embedded_json(
    text: str, decoder: json.JSONDecoder, *, objects_only: bool = False
) -> Iterator[Any]:
    """The JSON values (`objects_only`: the objects) written anywhere in `text` (a model's
    reply), each read with `raw_decode_within`, left to right and never overlapping; at most
    `MAX_EMBEDDED_ATTEMPTS` places are tried, so any text costs time in proportion to it."""
    pos = 0
    for _ in range(MAX_EMBEDDED_ATTEMPTS):
        found = _EMBEDDED_START.search(text, pos)
        while found is not None and objects_only and found.group() != "{":
            found = _EMBEDDED_START.search(text, found.start() + 1)
        if found is None:
            return
        start = found.start()
        try:
            value, pos = raw_decode_within(decoder, text, start)
        except ValueError:  # not JSON, or nested too deep
            pos = start + 1
            continue
        yield value


def parse_program(code: str) -> ast.Module:
    """`ast.parse(code)`; a program nested too deep for the parser raises SyntaxError too
    (whoever walks the tree recursively must still catch RecursionError)."""
    try:
        return ast.parse(code)
    except (MemoryError, RecursionError):  # "Parser stack overflowed", "during ast construction"
        raise SyntaxError("the program is nested too deep for the host to read") from None
