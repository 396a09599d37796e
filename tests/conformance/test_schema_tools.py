"""Tools known by a JSON schema (MCP and framework tools) behave like any tool in the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codeact import CodeAct, Tool

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "default": 1}},
    "required": ["city"],
}


async def forecast(**arguments: Any) -> dict[str, Any]:
    return {"city": arguments["city"], "days": arguments.get("days", 1)}


async def test_schema_tool_is_a_function_with_positional_and_keyword_arguments(
    make_codeact: Callable[..., CodeAct],
) -> None:
    tool = Tool.from_schema("forecast", WEATHER, forecast)
    codeact = make_codeact(tools=[tool])
    result = await codeact.execute(
        "a = forecast('Paris', 3)\n"
        "b = forecast(city='Oslo')\n"
        "c = call_tool('forecast', {'city': 'Lyon'})\n"
        "[a, b, c]"
    )
    assert result.ok, result.to_model_text()
    assert result.value == [
        {"city": "Paris", "days": 3},
        {"city": "Oslo", "days": 1},
        {"city": "Lyon", "days": 1},
    ]


async def test_schema_violations_raise_tool_error_without_calling_the_tool(
    make_codeact: Callable[..., CodeAct],
) -> None:
    calls: list[dict[str, Any]] = []

    def record(**arguments: Any) -> str:
        calls.append(arguments)
        return "ok"

    codeact = make_codeact(tools=[Tool.from_schema("forecast", WEATHER, record)])
    result = await codeact.execute(
        "try:\n    forecast(city=5)\nexcept ToolError as e:\n    print(e)\nforecast(city='Rome')"
    )
    assert result.ok, result.to_model_text()
    assert "argument 'city': 5 is not of type 'string'" in result.stdout
    assert calls == [{"city": "Rome"}]
