"""Agent Framework tools whose names Python cannot call, as the other adapters take them.

An MCP server's or an OpenAPI tool's name may hold a hyphen or a dot (``get-weather``). The
sandbox calls every tool as a function of its name, so such a tool is offered under its
Python name (``get_weather``) and its description says so; two tools that would both get
one name are refused when added.
"""

from __future__ import annotations

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import Agent, FunctionTool

from codeact import ConfigurationError
from codeact.integrations.agent_framework import CodeActProvider, ExecuteCodeTool

from .af_scripted_client import ScriptedChatClient, answer_with_result, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")


def _weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def _hyphenated() -> FunctionTool:
    return FunctionTool(name="get-weather", description="The weather in a city.", func=_weather)


async def test_a_hyphenated_tool_is_called_by_its_python_name() -> None:
    program = 'print(get_weather(city="Oslo"), call_tool("get_weather", city="Rome"))'
    client = ScriptedChatClient([run_code(program), answer_with_result()])
    agent = Agent(client=client, context_providers=[CodeActProvider(tools=[_hyphenated()])])
    response = await agent.run("go")
    assert response.text == "The program said: sunny in Oslo sunny in Rome\n"


def test_the_description_names_the_function_and_collisions_are_refused() -> None:
    execute_code = ExecuteCodeTool(tools=[_hyphenated()])
    assert "get_weather(" in execute_code.description
    assert "'get-weather': call it as get_weather" in execute_code.description
    twin = FunctionTool(name="get_weather", description="Another.", func=_weather)
    with pytest.raises(ConfigurationError, match="would both be called get_weather"):
        execute_code.add_tools(twin)
    assert [t.name for t in execute_code.get_tools()] == ["get-weather"]


async def test_a_tool_named_like_a_builtin_leaves_the_builtin_alone() -> None:
    shout = FunctionTool(name="print", description="Shout a text.", func=lambda text: text.upper())
    execute_code = ExecuteCodeTool(tools=[shout])
    assert "'print': call it as print_" in execute_code.description
    result = await execute_code.run('print(print_(text="hi"))')
    assert result.ok and result.stdout == "HI\n"
