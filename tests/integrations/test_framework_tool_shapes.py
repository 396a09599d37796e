"""What the model is shown of framework tools: the function's return type (and the keys of
what it returns), and the arguments in the order the function declares them."""

from __future__ import annotations

from typing import Literal, TypedDict

import pytest

from .conftest import demo_server_command

pytestmark = pytest.mark.usefixtures("wasm_ready")


class Order(TypedDict):
    id: int
    total: float


def get_orders(user_id: int) -> list[Order]:
    """Orders of a user."""
    return [{"id": user_id, "total": 2.0}]


SHOWN = "- get_orders(user_id: int) -> list[Order]: Orders of a user."


def _shows_orders(description: str) -> None:
    assert SHOWN in description
    assert "Order = " in description and '"total": float' in description


def test_a_langchain_tool_shows_its_return_type() -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.tools import tool

    from codeact.integrations.langchain import CodeActTool

    _shows_orders(CodeActTool(tools=[tool(get_orders)]).description)


async def test_a_pydantic_ai_function_shows_its_return_type() -> None:
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    from codeact.integrations.pydantic_ai import CodeActToolset

    seen: list[str] = []

    def model(messages: object, info: AgentInfo) -> ModelResponse:
        seen.append(info.function_tools[0].description or "")
        return ModelResponse(parts=[TextPart("ok")])

    with pytest.warns(UserWarning):  # Pydantic AI cannot make a JSON schema of list[Order]
        agent = Agent(FunctionModel(model), toolsets=[CodeActToolset(tools=[get_orders])])
        await agent.run("x")  # run_sync leaves an event loop of its own unclosed
    _shows_orders(seen[0])


async def test_an_agent_framework_tool_keeps_its_order_and_return_type() -> None:
    pytest.importorskip("agent_framework")
    from agent_framework import tool

    from codeact.integrations.agent_framework import ExecuteCodeTool

    @tool
    def search(
        query: str, limit: int = 10, lang: str | None = None, mode: Literal["a", "b"] = "a"
    ) -> list[str]:
        """Search."""
        return [query, str(limit), str(lang), mode]

    execute = ExecuteCodeTool(tools=[search, tool(get_orders)])
    assert (
        "- search(query: str, limit: int = 10, lang: str | None = None, "
        "mode: Literal['a', 'b'] = 'a') -> list[str]: Search." in execute.description
    )
    _shows_orders(execute.description)
    result = await execute.run('print(search("x", 3))')
    assert result.stdout.strip() == "['x', '3', 'None', 'a']"


async def test_agent_framework_mcp_tools_give_the_program_values() -> None:
    pytest.importorskip("agent_framework")
    pytest.importorskip("mcp")
    from agent_framework import MCPStdioTool

    from codeact.integrations.agent_framework import ExecuteCodeTool

    command, *args = demo_server_command("weather")
    program = (
        "print(repr(cities()))\n"
        "f = forecast(city='Paris')\n"
        "print(f['city'], f['unit'])\n"
        "print(repr(server_info())[:16])"
    )
    async with MCPStdioTool(name="weather", command=command, args=args) as server:
        execute = ExecuteCodeTool(tools=list(server.functions))
        assert "- forecast(city: str, unit: Literal['C', 'F'] = 'C')" in execute.description
        result = await execute.run(program)
    assert result.stdout.splitlines() == [
        "['Lyon', 'Oslo', 'Paris']",
        "Paris C",
        "'weather server,",
    ], result.stderr
