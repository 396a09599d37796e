"""Approvals, middleware and audit of direct tool calls, driven by the scripted chat client:
a gated direct tool is decided by the Agent's handler or the CodeAct's (and without either,
the Agent refuses to be made), and direct calls go through the CodeAct's middleware and
audit as its programs' calls do."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import Agent, ApprovalRequest, CodeAct, ConfigurationError, tool
from codeact.testing import ScriptedChat, call, code_call
from codeact.workloads import order_totals


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def tool_messages(chat: ScriptedChat, request: int) -> list[str]:
    return [m.content or "" for m in chat.requests[request].messages if m.role == "tool"]


@pytest.mark.parametrize("decision", [True, False])
async def test_approval_handler_decides_gated_direct_tools(decision: bool) -> None:
    ran: list[str] = []
    asked: list[ApprovalRequest] = []

    @tool(approval_mode="always_require")
    def send_email(to: str) -> str:
        """Send an email."""
        ran.append(to)
        return "sent"

    async def handler(request: ApprovalRequest) -> bool:
        asked.append(request)
        return decision

    chat = ScriptedChat([call("send_email", to="bob@example.com"), "ok"])
    result = await Agent(client=chat, tools=[send_email], approval_handler=handler).run("mail")
    assert [(r.tool, r.arguments) for r in asked] == [("send_email", {"to": "bob@example.com"})]
    if decision:
        assert ran == ["bob@example.com"] and tool_messages(chat, 1) == ["sent"]
        assert result.tool_calls[0].outcome == "ok"
    else:
        assert ran == []
        assert tool_messages(chat, 1) == [
            "Error: the call of send_email() was denied: not approved"
        ]
        assert result.tool_calls[0].outcome == "denied"
    assert asked[0].origin == "direct" and asked[0].kind == "call"
    assert result.tool_calls[0].origin == "direct" and result.tool_calls[0].handler == "handler"


def test_gated_tool_without_a_handler_is_a_configuration_error() -> None:
    @tool(approval_mode="always_require")
    def delete_all() -> None:
        """Dangerous."""

    with pytest.raises(ConfigurationError, match="delete_all need approval"):
        Agent(client=ScriptedChat([]), tools=[delete_all])


@pytest.mark.usefixtures("wasm_ready")
async def test_direct_calls_share_the_codeacts_middleware_and_audit() -> None:
    seen: list[tuple[str, str]] = []
    audited: list[Any] = []

    async def watch(call: Any, call_next: Any) -> Any:
        seen.append((call.name, call.origin))
        return await call_next(call)

    codeact = CodeAct(
        tools=[order_totals.get_tax_rate], backend="wasm", middleware=[watch], audit=audited.append
    )
    chat = ScriptedChat(
        [
            [call("add", a=1, b=2), code_call("get_tax_rate(region='US')")],
            "done",
        ]
    )
    await Agent(client=chat, codeact=codeact, tools=[add]).run("go")
    assert sorted(seen) == [("add", "direct"), ("get_tax_rate", "code")]
    assert sorted(r.origin for r in audited) == ["code", "direct"]


@pytest.mark.usefixtures("wasm_ready")
async def test_a_handler_on_the_codeact_also_decides_direct_calls() -> None:
    @tool(approval_mode="always_require")
    def wipe() -> str:
        """Dangerous."""
        return "wiped"

    async def deny(request: ApprovalRequest) -> bool:
        return False

    chat = ScriptedChat([call("wipe"), "ok"])
    codeact = CodeAct(tools=[add], backend="wasm", approval_handler=deny)
    result = await Agent(client=chat, codeact=codeact, tools=[wipe]).run("wipe it")
    assert result.tool_calls[0].outcome == "denied" and result.tool_calls[0].handler == "deny"
