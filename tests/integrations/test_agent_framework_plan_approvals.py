"""Plan-scope approvals in the Agent Framework provider, with the framework's Agent: the calls a
scan finds are approved up front (by codeact's handler, or by the framework's approval of the
block), and calls beyond them are asked."""

from __future__ import annotations

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import Agent

from codeact import ApprovalRequest, ToolCallRecord
from codeact.integrations.agent_framework import CodeActProvider, ExecuteCodeTool

from .af_approval_tools import approve_with_the_framework, final, make_tools
from .af_scripted_client import ScriptedChatClient, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")


# -- approval_scope="plan": the calls a scan finds are approved up front ---------------------


async def test_plan_scope_asks_once_for_the_planned_calls_and_again_beyond_them() -> None:
    ran: list[str] = []
    asked: list[ApprovalRequest] = []
    records: list[ToolCallRecord] = []

    async def handler(request: ApprovalRequest) -> bool:
        asked.append(request)
        return True

    program = "delete_user(name='alice')\nname = 'delete_user'\ncall_tool(name, name='bob')"
    execute_code = ExecuteCodeTool(
        tools=make_tools(ran), approval_scope="plan", approval_handler=handler, audit=records.append
    )
    result = await execute_code.run(program)
    assert result.ok, result.to_model_text()
    assert ran == ["alice", "bob"]
    # `call_tool(name, ...)` is a call the scan cannot name: the plan grants nothing by count
    # (the hidden call could use up the listed call's grant), so each call is asked.
    assert [(r.kind, r.tool) for r in asked] == [
        ("block", None),
        ("call", "delete_user"),
        ("call", "delete_user"),
    ]
    assert asked[0].plan is not None and asked[0].plan.counts(gated_only=True) == {"delete_user": 1}
    assert asked[0].plan.dynamic == (3,)
    assert [(r.name, r.decision) for r in records] == [
        ("execute_code", "approved"),
        ("delete_user", "approved"),
        ("delete_user", "approved"),
    ]


async def test_framework_approval_of_the_block_covers_the_plan() -> None:
    ran: list[str] = []
    asked: list[str] = []

    async def handler(request: ApprovalRequest) -> bool:
        asked.append(request.kind)
        return True

    provider = CodeActProvider(
        tools=make_tools(ran),
        approval_mode="always_require",
        approval_scope="plan",
        approval_handler=handler,
    )
    client = ScriptedChatClient([run_code("delete_user(name='bob')"), final("ok")])
    agent = Agent(client=client, context_providers=[provider])
    session = agent.create_session()
    first = await agent.run("go", session=session)
    await approve_with_the_framework(agent, first, session)
    assert ran == ["bob"] and asked == []


async def test_framework_approval_of_a_loop_covers_every_iteration() -> None:
    ran: list[str] = []
    asked: list[str] = []

    async def handler(request: ApprovalRequest) -> bool:
        asked.append(request.kind)
        return False

    provider = CodeActProvider(
        tools=make_tools(ran),
        approval_mode="always_require",
        approval_scope="plan",
        approval_handler=handler,
    )
    loop = "for name in ['ann', 'bob', 'cy']:\n    delete_user(name=name)"
    client = ScriptedChatClient([run_code(loop), final("ok")])
    agent = Agent(client=client, context_providers=[provider])
    session = agent.create_session()
    first = await agent.run("go", session=session)
    await approve_with_the_framework(agent, first, session)
    assert ran == ["ann", "bob", "cy"] and asked == []


async def test_a_hidden_call_in_an_approved_loop_is_still_asked() -> None:
    ran: list[str] = []
    asked: list[str | None] = []

    def handler(request: ApprovalRequest) -> bool:  # a plain function works too
        asked.append(request.tool)
        return request.kind == "call" and (request.arguments or {}).get("name") == "bob"

    execute_code = ExecuteCodeTool(
        tools=make_tools(ran),
        approval_mode="always_require",
        approval_scope="plan",
        approval_handler=handler,
    )
    code = (
        "f = 'delete_user'\nfor name in ['ann', 'bob', 'cy']:\n    try:\n"
        "        delete_user(name=name) if name != 'cy' else call_tool(f, name=name)\n"
        "    except ToolDenied:\n        pass"
    )
    result = await execute_code.run(code)
    assert result.ok, result.to_model_text()
    # The scan cannot name `call_tool(f, ...)`: no grant at all, each call asks the handler.
    assert ran == ["bob"] and asked == ["delete_user"] * 3
