"""What a program's tool arguments cost the host, each call under `Limits.tool_argument_bytes`
(on every backend):

* arguments holding more than `ARGUMENT_CONTAINERS` lists and objects are refused before the
  host parses them (4 MB of ``[[], [], ...]`` stalled the host's event loop 0.5-2 s a call
  and took 110 MB, even for a tool that takes no arguments);
* the calls a program has started and not finished hold at most `IN_FLIGHT_ARGUMENTS` times
  `Limits.tool_argument_bytes` of arguments: past it a call is refused, until some finish
  (200 calls of 4 MB started with ``call_tool_async`` drove the host to 3-4 GB).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from codeact import ExecutionResult, Limits, tool
from codeact.calls.program_context import IN_FLIGHT_ARGUMENTS

_KIB = 1024


@tool
def ping() -> int:
    """Takes nothing."""
    return 1


@tool
def count_rows(rows: list[Any]) -> int:
    """Counts rows."""
    return len(rows)


async def test_too_many_lists_and_objects_are_refused_unparsed(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    code = (
        "seen = []\nfor call in (lambda: count_rows(rows=[[]] * 100_000),\n"
        "             lambda: ping(junk=[{}] * 200_000)):\n"
        "    try:\n        call()\n    except ToolError as e:\n        seen.append(str(e))\n"
        "print(len(seen))\nprint(seen[0])\n"
        "print(count_rows(rows=[[]] * 99_000), count_rows(rows=['[{['] * 40_000))"
    )
    result: ExecutionResult = await attempt(code, tools=[ping, count_rows])
    assert result.ok, result.error
    lines = result.stdout.splitlines()
    assert lines[0] == "2"
    assert lines[1].startswith(
        "the arguments of count_rows() hold more than 100,000 lists and objects"
    ), lines[1]
    assert lines[2] == "99000 40000"
    outcomes = [c.outcome for c in result.tool_calls]
    assert outcomes == ["invalid", "invalid", "ok", "ok"]
    for record in result.tool_calls[:2]:
        assert "not read" in repr(record.arguments)


@tool
async def hold(value: str) -> int:
    """Takes a while, as a slow API does."""
    await asyncio.sleep(1.0)
    return len(value)


async def test_calls_in_flight_hold_a_bounded_sum_of_arguments(
    backend_name: str, attempt: Callable[..., Any]
) -> None:
    limit = 64 * _KIB
    fit = IN_FLIGHT_ARGUMENTS  # calls of 60,000 characters: this many fit, the next does not
    code = (
        "import asyncio\ns = 'z' * 60_000\n"
        f"r = await asyncio.gather(*[call_tool_async('hold', value=s) for _ in range({fit + 2})],"
        " return_exceptions=True)\n"
        "print([x if isinstance(x, int) else type(x).__name__ for x in r])\n"
        "print([str(x) for x in r if not isinstance(x, int)][0])\n"
        f"print(await asyncio.gather(*[call_tool_async('hold', value=s) for _ in range({fit})]))"
    )
    limits = Limits(wall_time=20, memory_mb=128, tool_argument_bytes=limit)
    result: ExecutionResult = await attempt(code, tools=[hold], limits=limits)
    assert result.ok, result.error
    first, message, again = result.stdout.splitlines()
    assert first == str([60_000] * fit + ["ToolError"] * 2)
    assert message.startswith("hold() was not started: the calls this program has not finished")
    assert "(4 x Limits.tool_argument_bytes)" in message and "256 KiB" in message
    assert again == str([60_000] * fit)  # once they finished, as many start again
    outcomes = [c.outcome for c in result.tool_calls]
    assert outcomes.count("refused") == 2 and outcomes.count("ok") == 2 * fit
