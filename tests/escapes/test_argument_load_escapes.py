"""What a program's tool arguments cost the host, each call under `Limits.tool_argument_bytes`
(on every backend):

* arguments holding more than `ARGUMENT_CONTAINERS` lists and objects are refused before the
  host parses them (4 MB of ``[[], [], ...]`` stalled the host's event loop 0.5-2 s a call
  and took 110 MB, even for a tool that takes no arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codeact import ExecutionResult, tool


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
