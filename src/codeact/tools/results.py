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
(`ResultContainsItself`, naming where: ``result[0] is result``), whatever holds it: a list,
a dict, a model, a dataclass, a deque, a dict's view, a generator or any iterable.

A conversion may be bounded (`to_json_value`'s `max_bytes` and `deadline`): it counts, as it
goes, a lower bound of the JSON it is making, and stops with `ResultTooLargeError` as soon as
that passes `max_bytes`, or with `ResultConversionTimeout` once `deadline` has passed or
`stop` is set (the call is over: no thread goes on converting for it). So a generator, an
iterator, a custom mapping or sequence (whose size is known only by consuming it, if ever),
or a value whose parts are shared (small, and its JSON endless) is consumed only as far as
the limit, and one that never ends is stopped too.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import fractions
import math
import pathlib
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from .._nesting import MAX_JSON_DEPTH
from .result_limits import (
    ResultContainsItself,
    ResultConversionError,
    ResultConversionTimeout,
    ResultTooLargeError,
    _Budget,
    _Loop,
    _NestedTooDeep,
)
from .result_models import materialized, walk_model

__all__ = [
    "ResultContainsItself",
    "ResultConversionError",
    "ResultConversionTimeout",
    "ResultTooLargeError",
    "to_json_value",
]

_MAX_DEPTH = MAX_JSON_DEPTH


def to_json_value(
    value: Any,
    *,
    where: str = "result",
    max_bytes: int | None = None,
    deadline: float | None = None,
    stop: threading.Event | None = None,
) -> Any:
    """Return `value` converted to JSON types by the rules in this module's docstring.

    `max_bytes`: stop with `ResultTooLargeError` once the JSON text (``json.dumps``) is
    certainly longer; `deadline` (a `time.monotonic()` value): stop with
    `ResultConversionTimeout` once it has passed (checked before each part that runs code of
    the value's own: an item of an iterator, a mapping's entry, an object converted, and
    every few containers); `stop`: the same once it is set (the call is over)."""
    budget = _Budget(sys.maxsize if max_bytes is None else max_bytes, deadline, stop)
    try:
        converted = _convert(value, where, 0, budget)
    except _NestedTooDeep as exc:
        raise ResultConversionError(*exc.args) from None
    except _Loop as loop:  # paths from "result", as every other check says them
        inner = "result" + loop.inner[len(where) :]
        said = f"{inner} is result{loop.outer[len(where) :]}" if loop.outer else inner
        raise ResultContainsItself(said) from None
    budget.check()
    return converted


_PLAIN = frozenset((str, int, float, bool, type(None)))


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
    above, ident = budget.above, id(value)  # `_Budget.enter`, inline (once a container)
    if ident in above:  # a container met again inside itself
        raise _Loop(where, above[ident])
    above[ident] = where
    converted = _convert_container(value, kind, where, depth, budget)
    del above[ident]
    return converted


def _convert_container(value: Any, kind: type, where: str, depth: int, budget: _Budget) -> Any:
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
        if walk_model(value, where, budget):  # model_dump would drain an iterator whole
            value = materialized(value, [max(budget.left, 0) // 2], budget)
        try:
            dumped = value.model_dump(mode="json")
        except ValueError as exc:  # a loop made by its own serializer or a computed field
            if "Circular reference" in str(exc):
                raise _Loop(f"{where} (in its model_dump)", "") from None
            raise
        return _convert(dumped, where, depth, budget)
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
    deadline, clock, stop = budget.deadline, time.monotonic, budget.stop
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
        if stop is not None and stop.is_set():
            budget.tick()
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
