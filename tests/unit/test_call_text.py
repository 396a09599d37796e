"""The text of a tool call on its way through the host: the wasm guest's one-string request,
and the JSON read and written on every call, which must be exactly what `json` reads and
writes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from codeact import CodeAct, tool
from codeact.calls.json_text import dumps_converted, loads
from codeact.sandbox.registry import backend_availability
from codeact.sandbox.wasm.runtime import split_call
from codeact.tools.results import to_json_value


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ('4 echo{"i": 1}', ("echo", '{"i": 1}')),
        ("0 {}", ("", "{}")),
        ("5 4 add{}", ("4 add", "{}")),
        ('5 a\nb é{"x": "y"}', ("a\nb é", '{"x": "y"}')),
        ("3 abc", ("abc", "")),
        ("12 " + "n" * 12 + "[]", ("n" * 12, "[]")),
    ],
)
def test_a_request_splits_into_name_and_arguments(
    request_text: str, expected: tuple[str, str]
) -> None:
    assert split_call(request_text) == expected


@pytest.mark.parametrize(
    "request_text",
    [
        *("", "echo{}", " 4echo{}", "-1 x", "4 abc", "x4 echo{}", "٤ echo", "4\tab{}"),
        *("9" * 13 + " x", "1", "12", "0"),
    ],
)
def test_anything_else_is_not_a_request(request_text: str) -> None:
    assert split_call(request_text) is None


@tool
def echo(value: int) -> int:
    """Return the value."""
    return value


TEXTS = [
    '{"i": 1}',
    "[1, 2.5, true, false, null]",
    '"text"',
    "1",
    " 1",
    "1 ",
    '{"a": 1} ',
    "\n[]\n",
    "NaN",
    "-Infinity",
    '{"a": "\\ud800"}',
    '{"a": 1, "a": 2}',
    "1e999",
    "",
    "{",
    "[1,]",
    '{"a": 1} x',
    "nul",
]


@pytest.mark.parametrize("text", TEXTS)
def test_loads_is_json_loads(text: str) -> None:
    def outcome(fn: Any, value: str | bytes) -> Any:
        try:
            got = fn(value)
        except ValueError as exc:
            return type(exc), str(exc)
        return "nan" if isinstance(got, float) and math.isnan(got) else got

    assert outcome(loads, text) == outcome(json.loads, text)
    assert outcome(loads, text.encode()) == outcome(json.loads, text.encode())


VALUES: list[Any] = [
    {"i": 1},
    [1, 2.5, 1e300, -0.0, True, False, None],
    {"nested": {"list": [{"x": "é ü 漢 \U0001f600"}], "empty": {}}},
    'a string\n\t"quoted"',
    3,
    None,
    float("nan"),
    float("inf"),
    {"ключ": ["\ud800"]},
    [[[[[[[[[[1]]]]]]]]]],
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_converted_is_json_dumps(value: Any) -> None:
    converted = to_json_value(value)
    assert dumps_converted(converted) == json.dumps(converted)


def test_dumps_converted_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_converted({"a": object()})


RAW_REQUESTS = ["", "echo{}", "-1 x", "999 echo{}", "99999999999999999999 x", "4 echo", "4 echo{"]


@pytest.mark.skipif(
    not backend_availability("wasm").available, reason="needs the wasm backend (wasmtime)"
)
async def test_a_wasm_program_sending_its_own_requests_gets_refusals_not_a_crash() -> None:
    """The guest's `dispatch` import takes any string a program sends by hand: a request the
    host cannot split, or whose arguments are no JSON, is refused in the reply."""
    code = f"""
import sys
raw = sys.modules["wit_world.imports.tools"]
replies = [raw.dispatch(r) for r in {RAW_REQUESTS!r}]
[r[:1] for r in replies], raw.dispatch('4 echo{{"value": 7}}')
"""
    result = await CodeAct(tools=[echo], backend="wasm").execute(code)
    assert result.ok, result.error
    assert result.value == [["e"] * len(RAW_REQUESTS), "o7"]
    assert [c.outcome for c in result.tool_calls] == ["invalid", "invalid", "ok"]
