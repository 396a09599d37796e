"""`to_json_value` on a value that holds itself, through any container (said at once, naming
the place), and on a value whose JSON never ends (stopped at its deadline, or once `stop` is
set: no thread goes on converting for a call that is over)."""

from __future__ import annotations

import collections
import enum
import threading
import time
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from codeact.tools.results import (
    ResultContainsItself,
    ResultConversionTimeout,
    ResultTooLargeError,
    to_json_value,
)


class _Node(pydantic.BaseModel):
    name: str = "n"
    children: list[Any] = []
    extra: dict[str, Any] = {}


class _Loose(pydantic.BaseModel, extra="allow"):
    pass


class _Iter:
    def __init__(self) -> None:
        self.items: list[Any] = [self]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)


def _model() -> Any:
    node = _Node()
    node.children.append(node)
    return node


def _model_deep() -> Any:
    node = _Node()
    node.extra["k"] = collections.deque([{"x": (1, node)}])
    return node


def _model_extra() -> Any:
    loose = _Loose()
    loose.me = [loose]  # type: ignore[attr-defined]
    return loose


def _list_model_list() -> Any:
    outer: list[Any] = []
    outer.append(_Node(children=[outer]))
    return outer


def _deque() -> Any:
    d: collections.deque[Any] = collections.deque([1])
    d.append(d)
    return d


def _keys_view_of_dict_in_list() -> Any:
    items: list[Any] = []
    holder = {"a": items}
    items.append(holder.values())
    return holder


def _generator() -> Any:
    g: list[Any] = []
    g.append(iter([g]))
    return g


class _Color(enum.Enum):
    RED = [1]  # noqa: RUF012 (a value that a member is put in)


def _enum_value() -> Any:
    values: list[Any] = _Color.RED.value
    values.append(_Color.RED)
    return _Color.RED


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (_model, "result.children[0] is result"),
        (_model_deep, "result.extra['k'][0]['x'][1] is result"),
        (_model_extra, "result.me[0] is result"),
        (_list_model_list, "result[0].children[0] is result"),
        (_deque, "result[1] is result"),
        (_keys_view_of_dict_in_list, "result['a'][0][0] is result['a']"),
        (_generator, "result[0][0] is result"),
        (_Iter, "result[0] is result"),
        (_enum_value, "result[1] is result"),
    ],
)
@pytest.mark.parametrize("max_bytes", [None, 1 << 20])
def test_a_value_holding_itself_in_any_container_is_said_at_once(
    make: Any, where: str, max_bytes: int | None
) -> None:
    started = time.monotonic()
    with pytest.raises(ResultContainsItself) as caught:
        to_json_value(make(), where="the result of f()", max_bytes=max_bytes)
    assert caught.value.where == where
    assert time.monotonic() - started < 1


def test_shared_parts_are_no_loop() -> None:
    part = _Node(name="p")
    value = {"a": [part, part], "b": _Node(children=[part, [part]])}
    converted = to_json_value(value)
    assert converted["b"]["children"][1][0] == converted["a"][0]


def _endless() -> list[Any]:
    part: list[Any] = [1]
    for _ in range(60):
        part = [part, part]  # 61 lists; JSON of 2**60 items
    return part


@pytest.mark.parametrize("wrap", [lambda v: v, lambda v: _Node(children=v)], ids=["list", "model"])
def test_a_value_whose_json_never_ends_stops_at_its_deadline(wrap: Any) -> None:
    started = time.monotonic()
    with pytest.raises(ResultConversionTimeout):
        to_json_value(wrap(_endless()), deadline=started + 0.2)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("wrap", [lambda v: v, lambda v: _Node(children=v)], ids=["list", "model"])
def test_a_value_whose_json_never_ends_stops_when_its_call_is_over(wrap: Any) -> None:
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(ResultConversionTimeout):
        to_json_value(wrap(_endless()), stop=stop)
    assert time.monotonic() - started < 1


def test_a_model_whose_json_never_ends_is_too_large_before_its_dump() -> None:
    with pytest.raises(ResultTooLargeError):
        to_json_value(_Node(children=_endless()), max_bytes=1 << 20)
