"""The contract inside the sandbox, as model code sees it: its tools (functions and
`call_tool`), their arguments, results and errors, and names that are no tool's. What the
program itself gets (its output, value, tracebacks, asyncio, exits, stdin) is
test_program_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from codeact import CodeAct, tool
from codeact.tools import SANDBOX_RESERVED_NAMES
from codeact.workloads import order_totals


@tool
def get_weather(city: str) -> dict[str, float | str]:
    """Return the current weather for a city."""
    return {"city": city, "temperature_c": 21.5}


@tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot do it: {reason}")


@tool
def echo_any(value: Any) -> Any:
    """Return the value it was given."""
    return value


class Point(BaseModel):
    x: int
    y: int


@tool
def make_point(x: int, y: int) -> Point:
    """A pydantic model result arrives as a dict."""
    return Point(x=x, y=y)


async def test_the_sandboxs_own_names_are_the_reserved_ones(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """What a program finds defined besides its tools is `SANDBOX_RESERVED_NAMES`: no tool may
    take those names, and the agent cuts a program's mock definitions of them."""
    codeact = make_codeact(tools=[add])
    result = await codeact.execute("sorted(k for k in globals() if not k.startswith('__'))")
    assert result.ok, result.error
    assert set(result.value) == {"add", *SANDBOX_RESERVED_NAMES}


async def test_call_tool_returns_plain_values(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(tools=[get_weather])
    result = await codeact.execute('w = call_tool("get_weather", city="Paris")\nw["temperature_c"]')
    assert result.ok, result.error
    assert result.value == 21.5
    assert result.stdout == ""
    assert [(c.name, c.arguments, c.outcome) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "ok")
    ]


async def test_tools_are_plain_functions_with_positional_arguments(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[add, make_point])
    result = await codeact.execute("[add(2, 3), add(a=4), add(1, b=10), make_point(1, y=2)]")
    assert result.ok, result.error
    assert result.value == [5, 5, 11, {"x": 1, "y": 2}]


async def test_call_tool_accepts_a_dict_of_arguments(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(tools=[add])
    result = await codeact.execute('call_tool("add", {"a": 1, "b": 2})')
    assert result.value == 3


async def test_failing_tool_raises_catchable_tool_error_with_message(
    make_codeact: Callable[..., CodeAct],
) -> None:
    code = """
try:
    explode(reason="no fuel")
except ToolError as e:
    print("caught:", e)
"done"
"""
    result = await make_codeact(tools=[explode]).execute(code)
    assert result.ok, result.error
    assert "caught: ValueError: cannot do it: no fuel" in result.stdout
    assert result.value == "done"
    assert result.tool_calls[0].outcome == "error"


async def test_uncaught_tool_error_is_a_traceback_at_the_calling_line(
    make_codeact: Callable[..., CodeAct],
) -> None:
    result = await make_codeact(tools=[explode]).execute("x = 1\n\nexplode('boom')\n")
    assert not result.ok
    assert result.error is not None
    assert result.error.type == "ToolError"
    assert result.error.lineno == 3
    assert 'File "<code>", line 3' in result.error.traceback
    assert "codeact_runner" not in result.error.traceback


async def test_invalid_arguments_name_the_argument(make_codeact: Callable[..., CodeAct]) -> None:
    code = "try:\n    add(a='not a number')\nexcept ToolError as e:\n    print(e)"
    result = await make_codeact(tools=[add]).execute(code)
    assert "argument 'a'" in result.stdout
    assert result.tool_calls[0].outcome == "invalid"


async def test_arguments_json_cannot_carry_fail_that_call_only(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """A call whose arguments have no JSON form raises TypeError in the program and reaches
    no tool; the same containers, fixed, then go through (the guest keeps one JSON encoder,
    whose circular-reference bookkeeping a failed encoding must not leave behind), and a
    real cycle is refused as one."""
    code = """
values = [1, object()]
nested = {"k": values}
for attempt in (lambda: add(a=values), lambda: add(a=nested)):
    try:
        attempt()
    except TypeError as e:
        print("refused:", "arguments of add()" in str(e))
values[1] = 2
cycle = []
cycle.append(cycle)
try:
    add(a=cycle)
except (TypeError, ValueError, RecursionError) as e:
    print("cycle refused")
[call_tool("echo_any", value=values), call_tool("echo_any", value=nested),
 call_tool("echo_any", value=[values, values])]
"""
    result = await make_codeact(tools=[add, echo_any]).execute(code)
    assert result.ok, result.error
    assert result.stdout == "refused: True\nrefused: True\ncycle refused\n"
    assert result.value == [[1, 2], {"k": [1, 2]}, [[1, 2], [1, 2]]]
    assert [c.name for c in result.tool_calls] == ["echo_any"] * 3


async def test_arguments_whose_encoding_calls_a_tool_are_sent_whole(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """A dict subclass whose items() calls a tool while its call's arguments are encoded: both
    calls go through with their own arguments (the guest's kept encoder is one encoding's at
    a time)."""
    code = """
class Sneaky(dict):
    def items(self):
        add(a=41)
        return super().items()

[call_tool("echo_any", value=[Sneaky(k=[1, 2]), {"x": Sneaky(j=3)}]), add(a=1)]
"""
    result = await make_codeact(tools=[add, echo_any]).execute(code)
    assert result.ok, result.error
    assert result.value == [[{"k": [1, 2]}, {"x": {"j": 3}}], 2]
    assert [c.name for c in result.tool_calls] == ["add", "add", "echo_any", "add"]


@tool
async def slow_lookup(key: str) -> str:
    """Answer after a long while."""
    await asyncio.sleep(30)
    return key


async def test_a_call_still_running_when_the_program_ends_is_recorded_cancelled(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """The calls that ended keep their outcome; the one still in flight is recorded as
    cancelled, once, and the program's result does not wait for it."""
    code = """
import asyncio
add(a=1)
task = asyncio.ensure_future(call_tool_async("slow_lookup", key="k"))
await asyncio.sleep(0.05)
add(a=2)
"done"
"""
    result = await make_codeact(tools=[add, slow_lookup]).execute(code)
    assert result.ok, result.error
    assert result.value == "done"
    assert [(c.name, c.outcome) for c in result.tool_calls] == [
        ("add", "ok"),
        ("slow_lookup", "cancelled"),
        ("add", "ok"),
    ]
    assert result.timings["total_ms"] < 10_000


async def test_a_tool_name_with_lone_surrogates_is_an_unknown_name_not_a_crash(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """A str that is not valid Unicode (lone surrogates) as a tool's name: the program gets a
    ToolError it can catch, for call_tool and call_tool_async (on wasm such a string stopped
    the whole interpreter on its way to the host)."""
    code = """
import asyncio
out = []
for name in ["\\ud800", "a\\udfffb"]:
    try:
        call_tool(name)
    except ToolError as e:
        out.append("no tool named" in str(e))
    try:
        await call_tool_async(name)
    except ToolError as e:
        out.append("no tool named" in str(e))
out + [add(a=1)]
"""
    result = await make_codeact(tools=[add]).execute(code)
    assert result.ok, result.error
    assert result.value == [True, True, True, True, 2]


async def test_a_lone_surrogate_in_arguments_is_refused_as_such(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """A str argument with a lone surrogate cannot be a tool's text: the program is told that,
    not that its arguments are not JSON."""
    code = "try:\n    echo_any(value='a\\ud800b')\nexcept ToolError as e:\n    print(e)"
    result = await make_codeact(tools=[echo_any]).execute(code)
    assert result.ok, result.error
    assert "holds a lone surrogate" in result.stdout
    assert result.tool_calls[0].outcome == "invalid"


async def test_a_tool_name_of_any_characters_is_only_an_unknown_name(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """Names the host must not split or mistake for another: spaces, digits first, a
    newline, JSON, non-ASCII. Each is an unknown tool, the record keeps it as sent."""
    names = ["4 add", "3 add{}", "add\n", '{"a": 1}', "ädd", "1", ""]
    code = f"""
out = []
for name in {names!r}:
    try:
        call_tool(name, a=1)
    except ToolError as e:
        out.append("no tool named" in str(e))
out.append(call_tool("add", a=1))
out
"""
    result = await make_codeact(tools=[add]).execute(code)
    assert result.ok, result.error
    assert result.value == [True] * len(names) + [2]
    assert [c.name for c in result.tool_calls] == [*names, "add"]
    assert [c.outcome for c in result.tool_calls] == ["unknown"] * len(names) + ["ok"]


async def test_unknown_tool_lists_the_available_names(make_codeact: Callable[..., CodeAct]) -> None:
    code = "try:\n    call_tool('nope')\nexcept ToolError as e:\n    print(e)"
    result = await make_codeact(tools=[add, get_weather]).execute(code)
    assert "no tool named 'nope'" in result.stdout
    assert "add, get_weather" in result.stdout


async def test_order_totals_program_matches_expected(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(tools=order_totals.TOOLS)
    result = await codeact.execute(order_totals.PROGRAM)
    assert result.ok, result.error
    assert order_totals.check_answer(result.stdout)
    assert "sum: 334.15" in result.stdout
    lines = order_totals.workload()["expected"]["order_lines"]
    # list_users, then per user: two rates and the orders, then one call per order line
    assert len(result.tool_calls) == 1 + 8 * 3 + lines


async def test_a_missing_key_in_a_tool_result_lists_the_keys_it_has(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=order_totals.TOOLS)
    code = "line = get_orders_for_user(user_id=1)[0]\nline['region']"
    result = await codeact.execute(code)
    assert result.error is not None and result.error.type == "KeyError"
    assert "'product', 'qty', 'unit_price'" in result.error.message
    ok = await codeact.execute(
        "u = list_users()[0]\n[u['name'], u.get('nope', 'default'), isinstance(u, dict)]"
    )
    assert ok.value == ["Alice", "default", True]
