"""Arguments nested too deep are refused as invalid, on every backend: a `ToolError` the
program can catch, the tool never runs, and the call's record says "invalid" (the host never
fails on them, however deep: json.loads and the validators recurse)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from codeact import CodeAct, JsonlAudit, Tool, tool

TOO_DEEP = "arguments nested too deep (more than 200 levels)"

NEST = "v = []\nfor _ in range(DEPTH):\n    v = [v]\n"
CATCH = (
    "try:\n    CALL\nexcept ToolError as e:\n    print('refused:', e)\n"
    "print('the program goes on')\n"
)


def _schema_tool(ran: list[Any]) -> Tool:
    def echo(x: Any = None) -> str:
        ran.append(x)
        return "ran"

    return Tool.from_schema("echo", {"type": "object", "properties": {"x": {}}}, echo)


def _function_tool(ran: list[Any]) -> Tool:
    @tool
    def echo(x: Any = None) -> str:
        """Echo."""
        ran.append(x)
        return "ran"

    return echo


@pytest.mark.parametrize("make_tool", [_schema_tool, _function_tool], ids=["schema", "function"])
@pytest.mark.parametrize("depth", [300, 3000])
async def test_deeply_nested_arguments_are_a_tool_error_the_program_catches(
    make_codeact: Callable[..., CodeAct],
    make_tool: Callable[[list[Any]], Tool],
    depth: int,
    tmp_path: Any,
) -> None:
    ran: list[Any] = []
    audit = tmp_path / "audit.jsonl"
    sink = JsonlAudit(audit)
    codeact = make_codeact(tools=[make_tool(ran)], audit=sink)
    code = NEST.replace("DEPTH", str(depth)) + CATCH.replace("CALL", "echo(x=v)") + "echo(x=[[1]])"
    result = await codeact.execute(code)
    sink.close()
    assert result.ok, result.to_model_text()
    assert "refused: invalid arguments for echo(): " + TOO_DEEP in result.stdout
    assert "the program goes on" in result.stdout
    assert ran == [[[1]]]
    outcomes = [c.outcome for c in result.tool_calls]
    if depth > 1000 and outcomes == ["ok"]:
        # The program's own Python could not encode them (a jail's child has the host's
        # recursion limit): refused in the sandbox, the host never saw that call.
        return
    assert outcomes == ["invalid", "ok"]
    assert TOO_DEEP in (result.tool_calls[0].error or "")
    assert audit.read_text().count('"outcome": "invalid"') == 1


@pytest.mark.parametrize("make_tool", [_schema_tool, _function_tool], ids=["schema", "function"])
async def test_values_nested_200_levels_still_reach_the_tool(
    make_codeact: Callable[..., CodeAct], make_tool: Callable[[list[Any]], Tool]
) -> None:
    ran: list[Any] = []
    codeact = make_codeact(tools=[make_tool(ran)])
    result = await codeact.execute(NEST.replace("DEPTH", "199") + "echo(x=v)")
    assert result.ok, result.to_model_text()
    assert len(ran) == 1 and result.tool_calls[0].outcome == "ok"


@pytest.mark.parametrize("depth", [500, 5000, 99_000])  # 100,000 lists: too many
async def test_raw_arguments_text_nested_too_deep_is_refused_as_invalid(
    make_codeact: Callable[..., CodeAct], depth: int
) -> None:
    """The same through the host interface itself, as a program that skips `call_tool` may."""
    ran: list[Any] = []
    codeact = make_codeact(tools=[_schema_tool(ran)])
    code = (
        "import codeact_host\n"
        f"raw = '{{\"x\": ' + '[' * {depth} + ']' * {depth} + '}}'\n"
        "ok, payload = codeact_host.HOST.dispatch('echo', raw)\n"
        "print(ok, payload)\n"
        "echo(x=1)"
    )
    result = await codeact.execute(code)
    assert result.ok, result.to_model_text()
    assert result.stdout.startswith("False ") and TOO_DEEP in result.stdout
    assert [c.outcome for c in result.tool_calls] == ["invalid", "ok"]
    assert ran == [1]
