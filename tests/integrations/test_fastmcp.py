"""The FastMCP sandbox provider, under FastMCP's own CodeMode and its in-memory client.

The sandbox is real and so is the server; the client plays the model: it calls CodeMode's
``execute`` tool with programs written as CodeMode tells models to write them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

pytest.importorskip("fastmcp", reason="needs pip install -e '.[fastmcp]'")

from fastmcp import Client, Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.experimental.transforms.code_mode import CodeMode
from fastmcp.server.middleware import Middleware, MiddlewareContext

from codeact import ApproveAll, DenyAll, Limits
from codeact.integrations.fastmcp import CodeActSandboxProvider

pytestmark = pytest.mark.usefixtures("wasm_ready")

DELETED: list[str] = []


class SeenCalls(Middleware):
    def __init__(self) -> None:
        self.names: list[str] = []

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        self.names.append(context.message.name)
        return await call_next(context)


def server(provider: CodeActSandboxProvider, seen: SeenCalls | None = None) -> FastMCP:
    mcp = FastMCP("weather")

    @mcp.tool
    def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        return {"city": city, "temp_c": 21.5}

    @mcp.tool
    def to_fahrenheit(celsius: float) -> float:
        """Celsius to Fahrenheit."""
        return celsius * 9 / 5 + 32

    @mcp.tool(name="delete-file")
    def delete_file(path: str) -> str:
        """Delete a file."""
        DELETED.append(path)
        return "deleted"

    if seen is not None:
        mcp.add_middleware(seen)
    mcp.add_transform(
        CodeMode(sandbox_provider=provider, execute_description=provider.execute_description)
    )
    return mcp


PROGRAM = """\
w = await call_tool("get_weather", {"city": "Paris"})
f = await call_tool("to_fahrenheit", {"celsius": w["temp_c"]})  # {"result": ...}: FastMCP's
return {"city": w["city"], "fahrenheit": f["result"]}
"""


async def test_code_mode_runs_a_program_that_calls_two_tools() -> None:
    seen = SeenCalls()
    provider = CodeActSandboxProvider(limits=Limits(wall_time=20))
    async with Client(server(provider, seen)) as client:
        tools = {t.name: t for t in await client.list_tools()}
        assert "execute" in tools
        assert "Use `return`" in (tools["execute"].description or "")
        result = await client.call_tool("execute", {"code": PROGRAM})
    assert result.structured_content == {"city": "Paris", "fahrenheit": 70.7}
    # The server's middleware saw the two nested calls (after the execute call itself).
    assert seen.names == ["execute", "get_weather", "to_fahrenheit"]


async def test_failing_program_is_an_error_result_with_the_models_line_numbers() -> None:
    provider = CodeActSandboxProvider()
    code = 'w = await call_tool("get_weather", {"city": "Paris"})\nreturn 1 / 0\n'
    async with Client(server(provider)) as client:
        result = await client.call_tool("execute", {"code": code}, raise_on_error=False)
    assert result.is_error
    text = result.content[0].text
    assert "ZeroDivisionError" in text
    assert 'File "<code>", line 2, in <module>' in text


async def test_failing_nested_tool_is_a_catchable_error() -> None:
    provider = CodeActSandboxProvider()
    code = (
        "try:\n"
        '    await call_tool("get_weather", {"town": "Paris"})\n'
        "except ToolError as e:\n"
        '    return "caught: " + str(e)\n'
    )
    async with Client(server(provider)) as client:
        result = await client.call_tool("execute", {"code": code})
    text = result.content[0].text
    assert text.startswith("caught: ")
    assert "Valid parameters for get_weather" in text
    # FastMCP's ToolError arrives as the program's ToolError, its type not said twice
    assert "ToolError" not in text


async def test_stopped_program_says_which_limit_stopped_it() -> None:
    provider = CodeActSandboxProvider(limits=Limits(wall_time=1))
    async with Client(server(provider)) as client:
        result = await client.call_tool(
            "execute", {"code": "while True:\n    pass\n"}, raise_on_error=False
        )
    assert result.is_error
    assert "[stopped]" in result.content[0].text
    assert "wall" in result.content[0].text


async def test_call_of_a_gated_tool_is_denied_by_codeacts_handler() -> None:
    DELETED.clear()
    provider = CodeActSandboxProvider(require_approval=["delete-file"], approval_handler=DenyAll())
    code = (
        "try:\n"
        '    await call_tool("delete-file", {"path": "/etc/passwd"})\n'
        "except ToolDenied as e:\n"
        '    return "denied: " + str(e)\n'
    )
    async with Client(server(provider)) as client:
        result = await client.call_tool("execute", {"code": code})
    assert result.content[0].text.startswith("denied: ")
    assert DELETED == []


async def test_call_of_a_gated_tool_runs_once_approved() -> None:
    DELETED.clear()
    provider = CodeActSandboxProvider(
        require_approval=["delete-file"], approval_handler=ApproveAll()
    )
    code = 'return await call_tool("delete-file", {"path": "/tmp/x"})'
    async with Client(server(provider)) as client:
        result = await client.call_tool("execute", {"code": code})
    assert result.data == {"result": "deleted"}  # FastMCP wraps a tool's str result
    assert DELETED == ["/tmp/x"]


async def test_inputs_and_a_last_expression_and_multiline_strings() -> None:
    provider = CodeActSandboxProvider()
    code = 'text = """one\n  two"""\n[n * 2 for n in numbers] + [text]'
    value = await provider.run(code, inputs={"numbers": [1, 2]})
    assert value == [2, 4, "one\n  two"]


async def test_printed_output_comes_back_when_nothing_is_returned() -> None:
    provider = CodeActSandboxProvider()
    assert await provider.run('print("hello")') == "hello\n"


async def test_any_external_function_is_callable_from_the_program() -> None:
    provider = CodeActSandboxProvider()

    async def lookup(key: str, *, default: int = 0) -> int:
        return {"a": 1}.get(key, default)

    value = await provider.run(
        'return [await lookup("a"), await lookup("b", default=7)]',
        external_functions={"lookup": lookup},
    )
    assert value == [1, 7]


async def test_code_mode_with_a_program_that_raises_tool_error_when_uncaught() -> None:
    provider = CodeActSandboxProvider()
    async with Client(server(provider)) as client:
        with pytest.raises(ToolError, match=r"Unknown tool: no_such_tool"):
            await client.call_tool("execute", {"code": 'await call_tool("no_such_tool", {})'})


async def test_a_value_with_lone_surrogates_reaches_the_client_escaped() -> None:
    """FastMCP sends the program's value as UTF-8 JSON, which cannot hold lone surrogates: the
    client gets them escaped instead of a failed call."""
    provider = CodeActSandboxProvider(limits=Limits(wall_time=20))
    code = 'return {"k\\udc80": ["a\\ud800b", 1]}'
    async with Client(server(provider)) as client:
        result = await asyncio.wait_for(client.call_tool("execute", {"code": code}), 60)
    assert result.structured_content == {"k\\udc80": ["a\\ud800b", 1]}


async def test_a_gated_tool_is_gated_whatever_route_the_program_takes() -> None:
    """The gate holds on the host: the ungated ``mcp_call_tool`` host tool (called as a
    function or through call_tool_async) refuses a gated tool, and call_tool by keyword goes
    through the gate too."""
    DELETED.clear()
    provider = CodeActSandboxProvider(require_approval=["delete-file"], approval_handler=DenyAll())
    routes = [
        'mcp_call_tool(tool_name="delete-file", params={"path": "/a"})',
        'await call_tool_async("mcp_call_tool", tool_name="delete-file", params={"path": "/b"})',
        'await call_tool(tool_name="delete-file", params={"path": "/c"})',
        'await call_tool_async("delete_file", tool_name="delete-file", params={"path": "/d"})',
    ]
    async with Client(server(provider)) as client:
        for route in routes:
            code = f"try:\n    {route}\nexcept ToolDenied as e:\n    return 'denied: ' + str(e)\n"
            result = await client.call_tool("execute", {"code": code})
            assert result.content[0].text.startswith("denied: "), route
    assert DELETED == []


async def test_the_gated_host_tool_calls_its_own_tool_only() -> None:
    """What the person approved (a call of delete-file) is what runs: its host tool refuses
    to call any other server tool."""
    provider = CodeActSandboxProvider(
        require_approval=["delete-file"], approval_handler=ApproveAll()
    )
    code = (
        "try:\n"
        '    await call_tool_async("delete_file", tool_name="get_weather", params={"city": "x"})\n'
        "except ToolDenied as e:\n"
        '    return "denied: " + str(e)\n'
    )
    async with Client(server(provider)) as client:
        result = await client.call_tool("execute", {"code": code})
    assert "calls delete-file only" in result.content[0].text


async def test_call_tool_takes_its_documented_arguments_by_keyword_too() -> None:
    provider = CodeActSandboxProvider()
    code = (
        'a = await call_tool("to_fahrenheit", params={"celsius": 100})\n'
        'b = await call_tool(tool_name="to_fahrenheit", params={"celsius": 0})\n'
        'c = await call_tool("to_fahrenheit", {"celsius": 10})\n'
        'return [a["result"], b["result"], c["result"]]\n'
    )
    async with Client(server(provider)) as client:
        result = await client.call_tool("execute", {"code": code})
    assert json.loads(result.content[0].text) == [212.0, 32.0, 50.0]


async def test_a_traceback_shows_no_frame_the_model_did_not_write() -> None:
    provider = CodeActSandboxProvider()
    with pytest.raises(ToolError) as caught:
        await provider.run('x = 1\nraise ValueError("boom")\n')
    text = str(caught.value)
    assert 'File "<code>", line 2, in <module>' in text
    assert "__codeact_program__" not in text
    assert text.count('File "<code>"') == 1


async def test_a_program_cannot_pass_a_servers_context() -> None:
    provider = CodeActSandboxProvider(limits=Limits(wall_time=20))
    mcp = FastMCP("accounts")

    @mcp.tool
    def account(field: str, ctx: Context) -> str:
        """A field of the signed-in account."""
        return f"{field} for {type(ctx).__name__}"

    mcp.add_transform(CodeMode(sandbox_provider=provider))
    code = (
        "try:\n"
        '    return await call_tool("account", {"field": "x", "ctx": "forged"})\n'
        "except ToolError as e:\n"
        '    return "refused: " + str(e)\n'
    )
    async with Client(mcp) as client:
        result = await client.call_tool("execute", {"code": code})
    text = result.content[0].text
    assert text.startswith("refused: ") and "ctx" in text


def test_tools_given_to_the_provider_are_refused_with_where_they_go() -> None:
    """`tools=` said "tools is given twice" when given once: a program calls the server's own
    tools, so the provider takes none."""
    from codeact import ConfigurationError

    def lookup(key: str) -> str:
        return key

    with pytest.raises(ConfigurationError, match="takes no tools=: a program calls the FastMCP"):
        CodeActSandboxProvider(tools=[lookup])
