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
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from .._nesting import MAX_JSON_DEPTH

__all__ = ["ResultConversionError", "to_json_value"]

_MAX_DEPTH = MAX_JSON_DEPTH


class ResultConversionError(TypeError):
    """A tool's return value contains something that has no JSON form."""


def to_json_value(value: Any, *, where: str = "result") -> Any:
    """Return `value` converted to JSON types by the rules in this module's docstring."""
    return _convert(value, where, 0)


_PLAIN = frozenset((str, int, float, bool, type(None)))


def _convert(value: Any, where: str, depth: int) -> Any:
    # Dicts and lists of plain values first, without building the path of every item
    # (`where` is only needed in an error): most results are made of them.
    kind = type(value)
    if kind in _PLAIN:
        if depth > _MAX_DEPTH:
            raise ResultConversionError(f"{where} is nested more than {_MAX_DEPTH} levels deep")
        return value
    if depth < _MAX_DEPTH:
        if kind is dict:
            out: dict[str, Any] = {}
            for key, item in value.items():
                # The item before its key, as `_convert_other` does: the same error first.
                item = (
                    item if type(item) in _PLAIN else _convert(item, f"{where}[{key!r}]", depth + 1)
                )
                out[key if type(key) is str else _key(key, where)] = item
            return out
        if kind is list:
            return [
                item if type(item) in _PLAIN else _convert(item, f"{where}[{i}]", depth + 1)
                for i, item in enumerate(value)
            ]
    return _convert_other(value, where, depth)


def _convert_other(value: Any, where: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ResultConversionError(f"{where} is nested more than {_MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, int, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, float):
        return value
    if isinstance(value, enum.Enum):
        return _convert(value.value, where, depth + 1)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _convert(getattr(value, f.name), f"{where}.{f.name}", depth + 1)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[_key(key, where)] = _convert(item, f"{where}[{key!r}]", depth + 1)
        return out
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, fractions.Fraction)):
        number = float(value)
        if math.isinf(number) and isinstance(value, decimal.Decimal) and value.is_finite():
            raise ResultConversionError(f"{where} is a Decimal too large for a float: {value}")
        return number
    if isinstance(value, (uuid.UUID, pathlib.PurePath)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        items = [_convert(v, f"{where}[*]", depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return [_convert(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise ResultConversionError(
        f"{where} is an object of type {type(value).__qualname__}, which has no JSON form; "
        "return dicts, lists, str, int, float, bool, None, pydantic models or dataclasses"
    )


def _key(key: Any, where: str) -> str:
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
