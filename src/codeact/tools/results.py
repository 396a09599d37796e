"""Convert what a tool returns into JSON values, by fixed and documented rules.

The sandbox receives plain Python values (JSON types). A tool may return:

=============================================  ==========================================
returned on the host                           seen in the sandbox
=============================================  ==========================================
None, bool, int, float, str                    the same value
dict (str, int, float or bool keys)            dict with str keys (``{1: x}`` -> ``{"1": x}``)
list, tuple, other sequences, generators       list
set, frozenset                                 list, sorted when the items can be sorted
pydantic model                                 dict, ``model_dump(mode="json")``
dataclass instance                             dict of its fields
datetime, date, time                           str, ISO 8601 (``isoformat()``)
timedelta                                      float, seconds
Decimal, Fraction                              float
Enum member                                    its value (converted by these rules)
UUID, pathlib path                             str
bytes, bytearray                               str, base64
=============================================  ==========================================

Anything else is an error that names the type and the path inside the value
(``tool 'f' returned an object of type Foo at result['items'][2]``): never a silent ``str()``.
So is a value nested more than `MAX_JSON_DEPTH` levels, and one that holds itself
(`ResultContainsItself`, naming where: ``result[0] is result``).

A conversion may be bounded (`to_json_value`'s `max_bytes` and `deadline`): it counts, as it
goes, a lower bound of the JSON it is making, and stops with `ResultTooLargeError` as soon as
that passes `max_bytes`, or with `ResultConversionTimeout` once `deadline` has passed. So a
generator, an iterator, a custom mapping or sequence (whose size is known only by consuming
it, if ever) is consumed only as far as the limit, and one that never ends is stopped too.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import fractions
import itertools
import math
import pathlib
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from .._nesting import MAX_JSON_DEPTH, cycle_in

__all__ = [
    "ResultContainsItself",
    "ResultConversionError",
    "ResultConversionTimeout",
    "ResultTooLargeError",
    "to_json_value",
]

_MAX_DEPTH = MAX_JSON_DEPTH


class ResultConversionError(TypeError):
    """A tool's return value contains something that has no JSON form."""


class ResultTooLargeError(ResultConversionError):
    """The JSON of a value converted with `max_bytes` would be longer: the conversion stopped
    there (an iterator is consumed no further)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"its JSON would be longer than {max_bytes:,} bytes")
        self.max_bytes = max_bytes


class ResultContainsItself(ResultConversionError):
    """A value holds itself (a list, dict or dataclass in it is one that holds it): its JSON
    would never end. `where`: one such place (``result[0] is result``)."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"it contains itself ({where}), and a value that holds itself has no JSON form: "
            "return one without the loop (a copy, or ids in place of the objects)"
        )
        self.where = where


class _NestedTooDeep(ResultConversionError):
    """Nested more than `MAX_JSON_DEPTH` levels (or holding itself: `to_json_value` looks)."""


class ResultConversionTimeout(ResultConversionError):
    """A conversion with a `deadline` was still running at it (the value was consumed no
    further)."""


def to_json_value(
    value: Any,
    *,
    where: str = "result",
    max_bytes: int | None = None,
    deadline: float | None = None,
) -> Any:
    """Return `value` converted to JSON types by the rules in this module's docstring.

    `max_bytes`: stop with `ResultTooLargeError` once the JSON text (``json.dumps``) is
    certainly longer; `deadline` (a `time.monotonic()` value): stop with
    `ResultConversionTimeout` once it has passed (checked before each part that runs code of
    the value's own: an item of an iterator, a mapping's entry, an object converted)."""
    budget = _Budget(sys.maxsize if max_bytes is None else max_bytes, deadline)
    try:
        converted = _convert(value, where, 0, budget)
    except _NestedTooDeep as exc:
        found = cycle_in(value, where)  # the likeliest cause: said so, not "too deep"
        if found is not None:
            raise ResultContainsItself(found) from None
        raise ResultConversionError(*exc.args) from None
    budget.check()
    return converted


_PLAIN = frozenset((str, int, float, bool, type(None)))


class _Budget:
    """What is left of `max_bytes`, counted down by a lower bound of each part's JSON (a part
    is counted once converted; a container's brackets and separators when it starts)."""

    __slots__ = ("deadline", "left", "limit")

    def __init__(self, limit: int, deadline: float | None) -> None:
        self.limit = self.left = limit
        self.deadline = deadline

    def check(self) -> None:
        if self.left < 0:
            raise ResultTooLargeError(self.limit)

    def tick(self) -> None:
        """Before code of the value's own runs: over the limit, or past the deadline?"""
        if self.left < 0:
            raise ResultTooLargeError(self.limit)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ResultConversionTimeout("its conversion to JSON ran past the call's timeout")

    def items(self, count: int) -> None:
        """A container of `count` items starts: its brackets and separators (``", "``)."""
        self.left -= 2 * count if count else 2
        self.check()


def _plain_size(value: Any) -> int:
    """A lower bound of the JSON length of a str, int, float, bool or None."""
    kind = type(value)
    if kind is str:
        return len(value) + 2
    if kind is int:  # at least 0.3 digits per bit (log10(2) = 0.301...)
        bits: int = value.bit_length()
        return max(1, bits * 3 // 10)
    return 3 if kind is float else 4  # 0.0, NaN; true, null


def _convert(value: Any, where: str, depth: int, budget: _Budget) -> Any:
    # Dicts and lists of plain values first, without building the path of every item
    # (`where` is only needed in an error): most results are made of them. Their size is
    # known (their own, built-in, len()): counted when they start, their strings as they go.
    kind = type(value)
    if kind in _PLAIN:
        if depth > _MAX_DEPTH:
            raise _NestedTooDeep(f"{where} is nested more than {_MAX_DEPTH} levels deep")
        budget.left -= _plain_size(value)
        return value
    if depth < _MAX_DEPTH:
        if kind is dict:
            budget.items(2 * len(value))  # each key and value, at least 1 character each
            out: dict[str, Any] = {}
            for key, item in value.items():
                # The item before its key, as `_convert_other` does: the same error first.
                if type(item) is str:
                    budget.left -= len(item)
                elif type(item) not in _PLAIN:
                    item = _convert(item, f"{where}[{key!r}]", depth + 1, budget)
                if type(key) is str:
                    budget.left -= len(key)
                else:
                    key = _key(key, where)
                out[key] = item
            budget.check()
            return out
        if kind is list:
            budget.items(len(value))
            items = []
            for i, item in enumerate(value):
                if type(item) is str:
                    budget.left -= len(item)
                elif type(item) not in _PLAIN:
                    item = _convert(item, f"{where}[{i}]", depth + 1, budget)
                items.append(item)
            budget.check()
            return items
    budget.tick()
    return _convert_other(value, where, depth, budget)


def _convert_other(value: Any, where: str, depth: int, budget: _Budget) -> Any:
    if depth > _MAX_DEPTH:
        raise _NestedTooDeep(f"{where} is nested more than {_MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, int, str)):
        value = value.value if isinstance(value, enum.Enum) else value
        budget.left -= len(value) + 2 if isinstance(value, str) else 1
        return value
    if isinstance(value, float):
        budget.left -= 3
        return value
    if isinstance(value, enum.Enum):
        return _convert(value.value, where, depth + 1, budget)
    if isinstance(value, BaseModel):  # its dump (its own serializers and exclusions) counted
        if _lazy_inside(value):  # model_dump would drain it whole (an endless one: for ever)
            value = _materialized(value, [max(budget.left, 0) // 2], budget)
        return _convert(value.model_dump(mode="json"), where, depth, budget)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        budget.items(2 * len(fields))
        return {
            f.name: _convert(getattr(value, f.name), f"{where}.{f.name}", depth + 1, budget)
            for f in fields
        }
    if isinstance(value, Mapping):
        budget.items(0)
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):  # as far as the limit goes
            budget.tick()
            budget.left -= 4 if i else 2  # ", " (after the first) and ": "
            out[_key(key, where, budget)] = _convert(item, f"{where}[{key!r}]", depth + 1, budget)
        return out
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        text = value.isoformat()
        budget.left -= len(text) + 2
        return text
    if isinstance(value, datetime.timedelta):
        budget.left -= 3
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, fractions.Fraction)):
        number = float(value)
        if math.isinf(number) and isinstance(value, decimal.Decimal) and value.is_finite():
            raise ResultConversionError(f"{where} is a Decimal too large for a float: {value}")
        budget.left -= 3
        return number
    if isinstance(value, (uuid.UUID, pathlib.PurePath)):
        text = str(value)
        budget.left -= len(text) + 2
        return text
    if isinstance(value, (bytes, bytearray, memoryview)):
        size = memoryview(value).nbytes
        budget.left -= 4 * ((size + 2) // 3) + 2
        budget.check()  # before the copy and its encoding
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        items = _items(value, f"{where}[*]", depth, budget, star=True)
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return _items(value, where, depth, budget, star=False)
    raise ResultConversionError(
        f"{where} is an object of type {type(value).__qualname__}, which has no JSON form; "
        "return dicts, lists, str, int, float, bool, None, pydantic models or dataclasses"
    )


def _items(value: Iterable[Any], where: str, depth: int, budget: _Budget, *, star: bool) -> Any:
    """The items of any iterable, converted one by one and counted: an iterator is consumed
    only until the limit or the deadline (a sized one's len() is not trusted)."""
    budget.items(0)
    budget.left += 2  # the first item has no separator
    items: list[Any] = []
    deadline, clock = budget.deadline, time.monotonic
    shallow = depth < _MAX_DEPTH  # else even a plain item is nested too deep
    for i, item in enumerate(value):
        kind = type(item)
        if kind is str and shallow:
            budget.left -= len(item) + 4  # quotes and ", "
        elif kind in _PLAIN and shallow:
            budget.left -= _plain_size(item) + 2
        else:
            budget.left -= 2
            item = _convert(item, where if star else f"{where}[{i}]", depth + 1, budget)
        items.append(item)
        if budget.left < 0:
            raise ResultTooLargeError(budget.limit)
        if deadline is not None and clock() > deadline:
            raise ResultConversionTimeout("its conversion to JSON ran past the call's timeout")
    return items


def _key(key: Any, where: str, budget: _Budget | None = None) -> str:
    if budget is not None:  # the key's own JSON: at least its quotes
        budget.left -= len(key) + 2 if isinstance(key, str) else 3
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum):
        key = key.value
        if isinstance(key, str):
            return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return str(key)
    raise ResultConversionError(
        f"{where} has a dict key of type {type(key).__qualname__}; JSON keys must be strings"
    )


def _lazy_inside(model: BaseModel) -> bool:
    """Whether a model holds an iterator anywhere among its values (a field typed
    ``Iterable[int]`` keeps the generator it was given)."""
    stack: list[Any] = [model]
    while stack:
        value = stack.pop()
        if isinstance(value, BaseModel):
            stack.extend(getattr(value, name, None) for name in type(value).model_fields)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, Iterator):
            return True
    return False


def _materialized(value: Any, left: list[int], budget: _Budget) -> Any:
    """`value` with every iterator in it read, at most ``left[0]`` items in all (each
    takes 2 bytes of JSON or more: past that the result is too large, and the iterator is
    consumed no further); a model is copied with its fields replaced, so that its own dump
    (serializers, excluded fields, secrets) still makes its JSON."""
    budget.tick()
    if isinstance(value, BaseModel):
        fields = {name: getattr(value, name, None) for name in type(value).model_fields}
        made = {name: _materialized(v, left, budget) for name, v in fields.items()}
        changed = {name: m for name, m in made.items() if m is not fields[name]}
        return value.model_copy(update=changed) if changed else value
    if isinstance(value, dict):
        items = {k: _materialized(v, left, budget) for k, v in value.items()}
        return items if any(items[k] is not value[k] for k in value) else value
    if isinstance(value, (list, tuple)):
        listed = [_materialized(v, left, budget) for v in value]
        return listed if any(m is not v for m, v in zip(listed, value, strict=True)) else value
    if isinstance(value, Iterator):
        taken = list(itertools.islice(value, left[0] + 1))
        if len(taken) > left[0]:
            raise ResultTooLargeError(budget.limit)
        left[0] -= len(taken)
        read = [_materialized(v, left, budget) for v in taken]
        return (v for v in read)  # still a generator, as the model's serializer expects
    return value
