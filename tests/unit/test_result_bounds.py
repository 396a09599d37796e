"""`to_json_value` within `max_bytes` and a deadline: an iterator consumed only as far as the
limit, and never a value refused whose JSON fits."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from codeact.calls.sizes import json_size_over
from codeact.tools.results import (
    ResultConversionError,
    ResultConversionTimeout,
    ResultTooLargeError,
    to_json_value,
)


@dataclasses.dataclass
class _Point:
    x: int
    label: str


_VALUES: list[Any] = [
    None, True, False, 0, -1, 7, 10**30, -(10**30), 0.0, 1.5, -2.25e100, float("nan"), "", "é",
    "x" * 100, [], {}, [1], [[]], {"a": 1}, {1: "x", 2.5: None, False: [1, 2]},
    [1, "two", 3.0, None, True, {"k": ["v", 10**20]}], (1, 2), {3, 1, 2}, frozenset(),
    range(50), b"bytes", bytearray(7),
    _Point(3, "p"), [_Point(-5, "")] * 3, datetime.date(2024, 1, 2),
    {"nested": [{"deep": [[[1, 2], [3]], {"e": "f"}]}]}, list(range(-500, 500)),
]  # fmt: skip


_LAZY: list[Callable[[], Any]] = [
    lambda: (i * 1000 for i in range(50)),
    lambda: iter(["a", "bb"]),
    lambda: {"g": (str(i) for i in range(5)), "m": map(float, range(3))},
    lambda: {1, 2}.union,  # no JSON form: an error either way
]


@pytest.mark.parametrize("make", [*(lambda v=v: v for v in _VALUES), *_LAZY])
def test_a_value_whose_json_fits_is_never_refused(make: Callable[[], Any]) -> None:
    try:
        expected = json.dumps(to_json_value(make()))
    except ResultConversionError:
        return
    again = to_json_value(make(), max_bytes=len(expected))
    assert json.dumps(again) == expected


def test_an_endless_iterator_is_consumed_only_as_far_as_the_limit() -> None:
    counter = itertools.count()
    with pytest.raises(ResultTooLargeError):
        to_json_value(counter, max_bytes=10_000)
    assert next(counter) < 5_000  # 10,000 bytes: at least 2 an item


def test_nested_iterators_count_toward_the_same_limit() -> None:
    taken = [0]

    def rows() -> Iterator[list[str]]:
        for i in range(10**6):
            taken[0] += 1
            yield ["x" * 100, str(i)]

    with pytest.raises(ResultTooLargeError):
        to_json_value({"rows": rows()}, max_bytes=100_000)
    assert taken[0] < 1_000


def test_a_conversion_stops_at_its_deadline() -> None:
    def slow() -> Iterator[int]:
        for i in range(1000):
            time.sleep(0.01)
            yield i

    started = time.monotonic()
    with pytest.raises(ResultConversionTimeout):
        to_json_value(slow(), deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 2


def test_the_size_check_stops_inside_a_sequence_of_its_own_class() -> None:
    class Endless(list):  # type: ignore[type-arg]
        def __iter__(self) -> Iterator[Any]:
            for i in range(10**6):  # a guard: "endless" before the fix
                yield [i]
            raise RuntimeError("iterated a million items")

    assert json_size_over(Endless(), 10_000)


def test_a_models_lazy_field_is_consumed_only_as_far_as_the_limit() -> None:
    # A field typed Iterable[int] keeps the generator; model_dump drained it whole (an
    # endless one until the host ran out of memory: 22.9 GB in 98 s).
    from collections.abc import Iterable

    import pydantic

    class Feed(pydantic.BaseModel):
        name: str
        items: Iterable[int]

    class Page(pydantic.BaseModel):
        feed: Feed

    counter = itertools.count()
    with pytest.raises(ResultTooLargeError):
        to_json_value(Page(feed=Feed(name="n", items=counter)), max_bytes=10_000)
    assert next(counter) <= 5_002  # 10,000 bytes: at least 2 an item
    small = to_json_value(Page(feed=Feed(name="n", items=iter([1, 2]))), max_bytes=10_000)
    assert small == {"feed": {"name": "n", "items": [1, 2]}}


def test_a_model_with_a_lazy_field_keeps_its_own_serializers_and_exclusions() -> None:
    # Converted field by field, a big model gave the program an excluded token and an
    # unmasked card number, and a SecretStr field failed the whole result.
    from collections.abc import Iterable

    import pydantic

    class Order(pydantic.BaseModel):
        token: str = pydantic.Field(exclude=True)
        secret: pydantic.SecretStr
        card: str
        lines: Iterable[int]

        @pydantic.field_serializer("card")
        def _mask(self, card: str) -> str:
            return "****" + card[-4:]

    order = Order(
        token="sk-live", secret=pydantic.SecretStr("s3"), card="4111111111111111", lines=range(3)
    )
    assert to_json_value(order, max_bytes=10_000) == {
        "secret": "**********",
        "card": "****1111",
        "lines": [0, 1, 2],
    }


async def test_a_huge_integer_says_what_the_tool_must_do() -> None:
    """Python's own advice (sys.set_int_max_str_digits) reached the model, which cannot act
    on the host's interpreter."""
    from codeact import CodeAct, tool

    @tool
    def factorial_of_2000() -> int:
        """A number of 5736 digits."""
        return math.factorial(2000)

    result = await CodeAct(tools=[factorial_of_2000], backend="wasm").execute("factorial_of_2000()")
    assert result.error is not None
    assert "must return such a number as a string" in result.error.message, result.error
    assert "set_int_max_str_digits()" not in result.error.message


def test_json_size_over_and_the_conversion_find_a_value_that_holds_itself() -> None:
    from codeact._nesting import ContainsItself, cycle_in
    from codeact.calls.sizes import bounded_copy, json_size_over
    from codeact.tools.results import ResultContainsItself, to_json_value

    loop: list[Any] = [1]
    loop.append(loop)
    started = time.monotonic()
    with pytest.raises(ContainsItself) as caught:
        json_size_over(loop, 256 * 2**20)
    assert time.monotonic() - started < 0.5 and caught.value.where == "result[1] is result"
    with pytest.raises(ResultContainsItself, match=r"contains itself \(result\[1\] is result\)"):
        to_json_value(loop)
    deep: list[Any] = []
    for _ in range(300):  # deep, not a loop: still said as too deep
        deep = [deep]
    with pytest.raises(Exception, match="nested more than 200 levels") as too_deep:
        to_json_value(deep)
    assert not isinstance(too_deep.value, ResultContainsItself)
    shared = [list(range(10))] * 50
    assert cycle_in([shared, shared]) is None and not json_size_over([shared, shared], 10**6)
    assert bounded_copy({"x": loop})["x"][0] == 1  # a record keeps a summary of it


def test_a_direct_call_with_arguments_that_hold_themselves_is_refused_saying_so() -> None:
    from codeact import tool
    from codeact.tools import ToolArgumentsError

    @tool
    def take(x: Any) -> int:
        """Take."""
        return 1

    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ToolArgumentsError, match=r"contain themselves \(arguments\['x'\]\[0\]"):
        take.validate({"x": loop})
