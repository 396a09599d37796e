"""Approvals and codeact's pipeline in the Agent Framework provider, with the framework's Agent.

The reference's rule (``approval_scope="block"``, the default) goes through the framework's own
approval flow; ``"call"`` and ``"plan"`` gate calls inside the running program through
codeact's approval handler. Nested calls pass codeact's pipeline (middleware, approval,
redaction, audit), then the framework's function middleware, then the tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import (
    Agent,
    Content,
    FunctionInvocationContext,
    MiddlewareTermination,
    function_middleware,
    tool,
)

from codeact import Approval, ApprovalRequest, CallDenied, ConfigurationError, ToolCallRecord
from codeact.calls.call import ToolInvocation
from codeact.integrations.agent_framework import CodeActProvider, ExecuteCodeTool

from .af_approval_tools import (
    NextHandler,
    approve_with_the_framework,
    final,
    make_tools,
    recording_middleware,
)
from .af_scripted_client import ScriptedChatClient, answer_with_result, last_tool_result, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")

# -- approval_scope="block": the reference's rule, through the framework's approval flow -------


@pytest.mark.parametrize("with_middleware", [False, True], ids=["plain", "with-middleware"])
async def test_block_scope_asks_the_framework_and_approves_every_call_in_the_block(
    with_middleware: bool,
) -> None:
    ran: list[str] = []
    records: list[ToolCallRecord] = []
    seen: list[str] = []
    provider = CodeActProvider(tools=make_tools(ran), audit=records.append)
    assert provider.execute_code_tool.approval_mode == "always_require"
    program = "print([delete_user(name=n) for n in list_users()])"
    client = ScriptedChatClient([run_code(program), answer_with_result()])
    middleware = [recording_middleware(seen)] if with_middleware else []
    agent = Agent(client=client, context_providers=[provider], middleware=middleware)
    session = agent.create_session()
    first = await agent.run("delete everyone", session=session)
    assert ran == [] and records == []
    second = await approve_with_the_framework(agent, first, session)
    assert ran == ["alice", "bob"]
    assert second.text == "The program said: ['deleted alice', 'deleted bob']\n"
    assert [(r.name, r.decision, r.handler) for r in records] == [
        ("execute_code", "approved", "agent_framework"),
        ("list_users", "not_required", None),
        ("delete_user", "preapproved", "grant"),
        ("delete_user", "preapproved", "grant"),
    ]
    if with_middleware:
        assert (
            seen
            == ["framework:execute_code", "framework:list_users"] + ["framework:delete_user"] * 2
        )


async def test_block_scope_tells_the_model_nothing_about_per_call_approval() -> None:
    ran: list[str] = []
    block = ExecuteCodeTool(tools=make_tools(ran))
    per_call = ExecuteCodeTool(tools=make_tools(ran), approval_scope="call")
    assert "waits for a person's approval" not in block.description
    assert "waits for a person's approval" in per_call.description


# -- approval_scope="call": each gated call asks codeact's handler, inside the program ------------


async def test_call_scope_asks_the_handler_at_each_gated_call_and_a_denial_is_catchable() -> None:
    ran: list[str] = []
    asked: list[ApprovalRequest] = []

    async def handler(request: ApprovalRequest) -> Approval:
        asked.append(request)
        if request.arguments == {"name": "alice"}:
            return Approval.deny("alice is an admin")
        return Approval.approve("ok")

    program = (
        "for n in list_users():\n"
        "    try:\n"
        "        print(delete_user(name=n))\n"
        "    except ToolDenied as e:\n"
        "        print('kept', n, '-', e)\n"
    )
    provider = CodeActProvider(
        tools=make_tools(ran), approval_scope="call", approval_handler=handler
    )
    assert provider.execute_code_tool.approval_mode == "never_require"
    client = ScriptedChatClient([run_code(program), answer_with_result("")])
    agent = Agent(client=client, context_providers=[provider])
    response = await agent.run("delete everyone")
    assert response.user_input_requests == []  # no framework round trip
    assert ran == ["bob"]
    assert response.text == (
        "kept alice - the call of delete_user() was denied: alice is an admin\ndeleted bob\n"
    )
    assert [(r.kind, r.tool, r.code) for r in asked] == [
        ("call", "delete_user", program),
        ("call", "delete_user", program),
    ]
    assert [c.name for c in asked[1].calls] == ["list_users", "delete_user"]


async def test_call_scope_without_a_handler_denies_and_says_how_to_add_one() -> None:
    ran: list[str] = []
    client = ScriptedChatClient([run_code("delete_user(name='bob')"), answer_with_result("")])
    provider = CodeActProvider(tools=make_tools(ran), approval_scope="call")
    agent = Agent(client=client, context_providers=[provider])
    response = await agent.run("go")
    assert ran == []
    assert "ToolDenied: the call of delete_user() was denied: delete_user() needs approval" in (
        response.text
    )
    assert "pass approval_handler= to CodeActProvider or ExecuteCodeTool" in response.text


async def test_always_require_with_call_scope_asks_the_framework_then_the_handler() -> None:
    ran: list[str] = []
    asked: list[str] = []

    async def handler(request: ApprovalRequest) -> bool:
        asked.append(f"{request.kind}:{request.tool}")
        return True

    provider = CodeActProvider(
        tools=make_tools(ran),
        approval_mode="always_require",
        approval_scope="call",
        approval_handler=handler,
    )
    client = ScriptedChatClient([run_code("list_users()\ndelete_user(name='bob')"), final("ok")])
    agent = Agent(client=client, context_providers=[provider])
    session = agent.create_session()
    first = await agent.run("go", session=session)
    assert ran == [] and asked == []
    await approve_with_the_framework(agent, first, session)
    assert ran == ["bob"]
    assert asked == ["call:delete_user"]  # the block was the framework's; the call is ours


# -- outside an agent, and bad options ------------------------------------------------------


async def test_run_outside_an_agent_is_approved_by_its_caller_in_block_scope() -> None:
    ran: list[str] = []
    records: list[ToolCallRecord] = []
    execute_code = ExecuteCodeTool(tools=make_tools(ran), audit=records.append)
    result = await execute_code.run("delete_user(name='bob')")
    assert result.ok and ran == ["bob"]
    assert records[0].handler == "the caller of ExecuteCodeTool.run"
    assert records[1].decision == "preapproved"


def test_options_that_cannot_work_are_refused() -> None:
    async def handler(request: ApprovalRequest) -> bool:
        return True

    with pytest.raises(ConfigurationError, match="Pass approval_scope='call'"):
        CodeActProvider(approval_handler=handler)  # the default scope never asks it
    with pytest.raises(ConfigurationError, match="approval_scope must be one of"):
        ExecuteCodeTool(approval_scope="tool")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="async callable"):
        ExecuteCodeTool(approval_scope="call", approval_handler="yes")  # type: ignore[arg-type]
    state = ExecuteCodeTool(approval_scope="plan", approval_handler=handler)
    assert state.build_serializable_state()["approval_scope"] == "plan"


# -- one pipeline: codeact's policies, then the framework's middleware, then the tool -------


async def test_nested_calls_pass_codeacts_pipeline_then_the_framework_middleware() -> None:
    seen: list[str] = []
    records: list[ToolCallRecord] = []

    @tool
    def login(user: str, password: str) -> str:
        """Log in."""
        seen.append(f"tool:{user}:{password}")
        return f"welcome {user}"

    async def policy(call: ToolInvocation, call_next: Any) -> Any:
        seen.append(f"codeact:{call.name}:{call.arguments['user']}")
        if call.arguments["user"] == "root":
            raise CallDenied("no root logins")
        return await call_next(call)

    @function_middleware
    async def framework(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        if context.function.name == "login":
            assert isinstance(context.arguments, Mapping)  # as the function-calling loop gives them
            seen.append(f"framework:{context.arguments['password']}")
        await call_next()

    program = (
        "print(login(user='ann', password='hunter2'))\n"
        "try:\n"
        "    login(user='root', password='toor')\n"
        "except ToolDenied as e:\n"
        "    print(e)\n"
    )
    provider = CodeActProvider(
        tools=[login], middleware=[policy], redact=["password"], audit=records.append
    )
    client = ScriptedChatClient([run_code(program), answer_with_result("")])
    agent = Agent(client=client, context_providers=[provider], middleware=[framework])
    response = await agent.run("go")
    assert seen == [
        "codeact:login:ann",
        "framework:hunter2",  # the framework's middleware and the tool get the real values
        "tool:ann:hunter2",
        "codeact:login:root",  # denied by codeact's policy: the framework never sees it
    ]
    assert response.text == "welcome ann\nthe call of login() was denied: no root logins\n"
    assert [(r.arguments, r.decision, r.outcome) for r in records] == [
        ({"user": "ann", "password": "[redacted]"}, "not_required", "ok"),
        ({"user": "root", "password": "[redacted]"}, "denied", "denied"),
    ]


async def test_a_call_denied_by_the_handler_never_reaches_the_framework_middleware() -> None:
    ran: list[str] = []
    seen: list[str] = []
    provider = CodeActProvider(
        tools=make_tools(ran), approval_scope="call", approval_handler=lambda r: _no(r)
    )
    program = "try:\n    delete_user(name='bob')\nexcept ToolDenied:\n    pass\nlist_users()"
    client = ScriptedChatClient([run_code(program), final("ok")])
    agent = Agent(
        client=client, context_providers=[provider], middleware=[recording_middleware(seen)]
    )
    await agent.run("go")
    assert ran == []
    assert seen == ["framework:execute_code", "framework:list_users"]


async def _no(request: ApprovalRequest) -> bool:
    return False


@pytest.mark.parametrize("how", ["result", "termination"])
async def test_function_middleware_asking_for_approval_of_a_nested_call_denies_it(
    how: str,
) -> None:
    ran: list[str] = []

    @function_middleware
    async def security_policy(context: FunctionInvocationContext, call_next: NextHandler) -> None:
        if context.function.name == "list_users":  # a policy that wants a person to say yes
            request = Content.from_function_approval_request(
                id="policy-1",
                function_call=Content.from_function_call(
                    call_id="policy-1", name="list_users", arguments={}
                ),
            )
            if how == "termination":
                raise MiddlewareTermination("ask first", result=request)
            context.result = request
            return
        await call_next()

    program = "try:\n    list_users()\nexcept ToolDenied as e:\n    print('denied:', e)"
    client = ScriptedChatClient([run_code(program), answer_with_result("")])
    provider = CodeActProvider(tools=make_tools(ran)[1:])  # list_users only: no block approval
    agent = Agent(client=client, context_providers=[provider], middleware=[security_policy])
    response = await agent.run("go")
    assert len(client.requests) == 2  # the program went on, and so did the loop
    assert response.text.startswith(
        "denied: the call of list_users() was denied: function middleware asked for approval"
    )
    assert "between model turns" in last_tool_result(client.requests[1][0])
