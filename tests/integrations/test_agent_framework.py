"""The Agent Framework provider, driven by the framework's own Agent and a scripted chat client.

The sandbox is real; only the model is scripted. The reference is Microsoft's
agent-framework-hyperlight; that codeact is a drop-in for it (its scripts, constructors and
methods) is test_agent_framework_dropin.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import (
    Agent,
    FunctionInvocationContext,
    Message,
    MiddlewareFailure,
    MiddlewareTermination,
    SessionContext,
    function_middleware,
    tool,
)

from codeact import Limits
from codeact.integrations.agent_framework import CodeActProvider, ExecuteCodeTool

from .af_scripted_client import ScriptedChatClient, answer_with_result, last_tool_result, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")

NextHandler = Callable[[], Awaitable[None]]


@tool(approval_mode="never_require")
def compute(
    operation: Annotated[Literal["add", "multiply"], "The operation."],
    a: Annotated[float, "Left operand."],
    b: Annotated[float, "Right operand."],
) -> float:
    """Do one arithmetic operation."""
    return a + b if operation == "add" else a * b


@tool(approval_mode="never_require")
async def fetch_data(table: Annotated[str, "users or products"]) -> list[dict[str, Any]]:
    """Fetch the rows of a table."""
    await asyncio.sleep(0)
    if table != "users":
        return []
    return [{"name": "Alice", "role": "admin"}, {"name": "Bob", "role": "user"}]


def final(text: str) -> Message:
    return Message(role="assistant", contents=[text])


# -- the provider in an agent run ------------------------------------------------------------


async def test_each_run_gets_the_instructions_and_one_run_scoped_execute_code_tool() -> None:
    client = ScriptedChatClient([final("hi")])
    provider = CodeActProvider(tools=[compute, fetch_data])
    agent = Agent(client=client, instructions="Be brief.", context_providers=[provider])
    await agent.run("hello")
    tools = client.tools_sent()
    assert [t.name for t in tools] == ["execute_code"]  # the sandbox tools are not direct tools
    assert isinstance(tools[0], ExecuteCodeTool) and tools[0] is not provider.execute_code_tool
    assert "- compute(operation: Literal['add', 'multiply'], a: float, b: float) -> float:" in (
        tools[0].description
    )
    assert "- fetch_data(table: str) -> list[dict[str, Any]]:" in tools[0].description
    instructions = client.instructions_sent()
    assert "Be brief." in instructions
    assert "Do the whole task in ONE `execute_code` call" in instructions
    # As in the reference, the instructions leave the tools to the description, and do not
    # promise the last line's value (the reference result shape does not return it).
    assert "compute" not in instructions and "fetch_data" not in instructions
    assert "The functions its description lists fetch the data" in instructions
    assert "value of the last line is not returned" in tools[0].description
    assert "call_tool(name, **kwargs)" in tools[0].description


async def test_run_tool_is_a_snapshot_and_the_state_is_json() -> None:
    provider = CodeActProvider(tools=[compute, fetch_data], limits=Limits(wall_time=5))
    context = SessionContext(input_messages=[])
    state: dict[str, Any] = {}
    await provider.before_run(agent=None, session=None, context=context, state=state)
    (run_tool,) = context.tools
    provider.remove_tool("compute")
    assert [t.name for t in run_tool.get_tools()] == ["compute", "fetch_data"]
    assert [t.name for t in provider.get_tools()] == ["fetch_data"]
    saved = json.loads(json.dumps(state[provider.source_id]))
    assert saved["tool_names"] == ["compute", "fetch_data"]
    assert saved["limits"]["wall_time"] == 5
    assert saved["approval_mode"] == "never_require"
    assert len(context.instructions) == 1


async def test_the_model_reads_what_the_program_printed() -> None:
    program = (
        'users = call_tool("fetch_data", table="users")\n'
        'admins = [u["name"] for u in users if u["role"] == "admin"]\n'
        'print("admins:", admins, "product:", compute("multiply", 6, 7))'
    )
    client = ScriptedChatClient([run_code(program), answer_with_result()])
    agent = Agent(client=client, context_providers=[CodeActProvider(tools=[compute, fetch_data])])
    response = await agent.run("go")
    # stdout comes back as printed, newline included (the reference's shape)
    assert response.text == "The program said: admins: ['Alice'] product: 42.0\n"
    assert "admins: ['Alice'] product: 42.0" in last_tool_result(client.requests[1][0])


async def test_function_middleware_sees_every_nested_call() -> None:
    seen: list[tuple[str, str, Any]] = []

    def recorder(layer: str) -> Any:
        @function_middleware
        async def record(context: FunctionInvocationContext, call_next: NextHandler) -> None:
            nested = context.metadata.get("codeact.nested_call")
            seen.append((layer, context.function.name, nested))
            await call_next()

        return record

    program = 'fetch_data(table="users")\ncompute(operation="add", a=1, b=2)'
    client = ScriptedChatClient([run_code(program, call_id="c7"), final("done")])
    agent = Agent(
        client=client,
        context_providers=[CodeActProvider(tools=[compute, fetch_data])],
        middleware=[recorder("agent")],
    )
    await agent.run("go", middleware=[recorder("run")])
    assert seen == [
        ("agent", "execute_code", None),
        ("run", "execute_code", None),
        ("agent", "fetch_data", {"parent_call_id": "c7", "index": 1}),
        ("run", "fetch_data", {"parent_call_id": "c7", "index": 1}),
        ("agent", "compute", {"parent_call_id": "c7", "index": 2}),
        ("run", "compute", {"parent_call_id": "c7", "index": 2}),
    ]


async def test_middleware_can_answer_a_nested_call_itself() -> None:
    @function_middleware
    async def cached(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        if context.function.name == "compute":
            context.result = 99  # short-circuit: the tool does not run
            return
        await call_next()

    client = ScriptedChatClient([run_code("print(compute('add', 1, 2))"), answer_with_result()])
    agent = Agent(
        client=client, context_providers=[CodeActProvider(tools=[compute])], middleware=[cached]
    )
    response = await agent.run("go")
    assert response.text == "The program said: 99\n"


async def test_middleware_failure_in_a_nested_call_stops_the_program_and_the_run() -> None:
    sent: list[str] = []

    @tool
    def send_money(to: str) -> str:
        """Send money."""
        sent.append(to)
        return "sent"

    @function_middleware
    async def guard(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        assert isinstance(context.arguments, Mapping)  # as the function-calling loop gives them
        if context.function.name == "send_money" and context.arguments.get("to") == "mallory":
            raise MiddlewareFailure("payments to mallory are blocked")
        await call_next()

    program = (
        "try:\n    send_money(to='mallory')\nexcept ToolError:\n    pass\nsend_money(to='bob')\n"
    )
    client = ScriptedChatClient([run_code(program), final("unreachable")])
    agent = Agent(
        client=client, context_providers=[CodeActProvider(tools=[send_money])], middleware=[guard]
    )
    with pytest.raises(MiddlewareFailure, match="blocked"):
        await agent.run("go")
    assert sent == []  # neither the blocked call nor the one after it ran


async def test_middleware_termination_in_a_nested_call_ends_the_loop_after_the_program() -> None:
    @function_middleware
    async def stop_at_compute(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        if context.function.name == "compute":
            raise MiddlewareTermination("enough", result=7)
        await call_next()

    client = ScriptedChatClient([run_code("print(compute('add', 1, 2) * 2)")])  # one model turn
    agent = Agent(
        client=client,
        context_providers=[CodeActProvider(tools=[compute])],
        middleware=[stop_at_compute],
    )
    response = await agent.run("go")
    assert len(client.requests) == 1
    results = [c for m in response.messages for c in m.contents if c.type == "function_result"]
    assert "14" in str(results[-1].result)


async def test_the_run_fails_closed_if_the_middleware_pipeline_cannot_be_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import codeact.integrations.agent_framework._program_runs as module

    monkeypatch.setattr(module, "find_function_pipeline", lambda context: None)
    ran: list[str] = []

    @tool
    def side_effect() -> str:
        """Do something."""
        ran.append("yes")
        return "done"

    @function_middleware
    async def audit(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        await call_next()

    client = ScriptedChatClient([run_code("side_effect()"), final("unreachable")])
    agent = Agent(
        client=client, context_providers=[CodeActProvider(tools=[side_effect])], middleware=[audit]
    )
    with pytest.raises(MiddlewareFailure, match="would bypass it"):
        await agent.run("go")
    assert ran == []


async def test_nested_tools_get_the_runs_invocation_context() -> None:
    @tool
    def whoami(ctx: FunctionInvocationContext) -> str:
        """The user this run is for."""
        return str(ctx.kwargs.get("user_id"))

    client = ScriptedChatClient([run_code("print(whoami())"), answer_with_result()])
    agent = Agent(client=client, context_providers=[CodeActProvider(tools=[whoami])])
    response = await agent.run("go", function_invocation_kwargs={"user_id": "u-42"})
    assert response.text == "The program said: u-42\n"


async def test_a_tool_that_needs_approval_gates_the_whole_block_as_in_the_reference() -> None:
    ran: list[str] = []

    @tool(approval_mode="always_require")
    def delete_user(name: str) -> str:
        """Delete a user."""
        ran.append(name)
        return "deleted"

    provider = CodeActProvider(tools=[compute, delete_user])
    assert provider.execute_code_tool.approval_mode == "always_require"
    client = ScriptedChatClient([run_code("print(delete_user('bob'))"), answer_with_result()])
    agent = Agent(client=client, context_providers=[provider])
    session = agent.create_session()
    first = await agent.run("delete bob", session=session)
    (request,) = first.user_input_requests
    assert request.type == "function_approval_request" and ran == []
    approval = Message(role="user", contents=[request.to_function_approval_response(True)])
    second = await agent.run(approval, session=session)
    assert ran == ["bob"]
    assert second.text == "The program said: deleted\n"


async def test_program_errors_and_limits_reach_the_model_as_error_contents() -> None:
    program_error = "rows = fetch_data('users')\nrows[5]"
    client = ScriptedChatClient(
        [
            run_code(program_error, call_id="a"),
            run_code("while True:\n    pass", call_id="b"),
            answer_with_result(),
        ]
    )
    provider = CodeActProvider(tools=[fetch_data], limits=Limits(wall_time=1))
    agent = Agent(client=client, context_providers=[provider])
    response = await agent.run("go")
    first = last_tool_result(client.requests[1][0])
    assert first.startswith("Execution error: Traceback (most recent call last):")
    assert "line 2, in <module>" in first and "IndexError: list index out of range" in first
    assert response.text.startswith("The program said: Execution error: LimitExceeded: ")
    assert "wall_time=1s" in response.text and "(limit: wall_time)" in response.text


async def test_execute_code_tool_runs_outside_an_agent() -> None:
    execute_code = ExecuteCodeTool(tools=[compute])
    result = await execute_code.run("compute('add', 2, 3) * 10")
    assert result.ok and result.value == 50.0
    contents = await execute_code.invoke(arguments={"code": "print(compute('multiply', 2, 3))"})
    assert [c.text for c in contents] == ["6.0\n"]


async def test_mcp_tools_can_be_provider_tools() -> None:
    pytest.importorskip("mcp", reason="needs the mcp extra")
    from codeact.integrations.mcp_client import mcp_tools

    from .conftest import demo_server_command

    seen: list[str] = []

    @function_middleware
    async def record(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        seen.append(context.function.name)
        await call_next()

    async with mcp_tools(demo_server_command("weather")) as weather:
        client = ScriptedChatClient(
            [
                run_code("print([forecast(city=c)['temperature'] for c in cities()])"),
                answer_with_result(),
            ]
        )
        provider = CodeActProvider(tools=[*weather])
        agent = Agent(client=client, context_providers=[provider], middleware=[record])
        response = await agent.run("go")
    assert response.text == "The program said: [24.0, 9.0, 21.5]\n"
    assert seen == ["execute_code", "cities", "forecast", "forecast", "forecast"]
