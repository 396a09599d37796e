"""`Agent(session=True)`: the programs of a run (and of a conversation continued with
``history=``) share their variables; without it, nothing is said or kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codeact import Agent, CodeAct, ConfigurationError
from codeact.chat.messages import Message
from codeact.testing import ScriptedChat, code_call
from codeact.workloads import order_totals

pytestmark = pytest.mark.usefixtures("wasm_ready")


def _codeact() -> CodeAct:
    return CodeAct(tools=order_totals.TOOLS, backend="wasm")


def _tool_texts(chat: ScriptedChat, request: int) -> list[str]:
    return [m.content or "" for m in chat.requests[request].messages if m.role == "tool"]


async def test_programs_of_one_run_share_their_variables() -> None:
    chat = ScriptedChat(
        [
            code_call("users = list_users()\nlen(users)"),
            code_call("print(sorted(u['name'] for u in users)[0])"),
            "Alice comes first.",
        ]
    )
    agent = Agent(client=chat, codeact=_codeact(), session=True)
    result = await agent.run("go")
    assert [e.ok for e in result.executions] == [True, True], _tool_texts(chat, 2)
    assert "kept for the next call: users" in _tool_texts(chat, 1)[0]
    assert _tool_texts(chat, 2)[1].startswith("Alice")
    system = chat.requests[0].messages[0].content or ""
    assert "are still there in the next call" in system
    assert "are kept for the next call" in chat.requests[0].tools[0].description


async def test_a_continued_conversation_keeps_its_session_and_a_new_one_starts_empty() -> None:
    chat = ScriptedChat(
        [
            code_call("rate = get_tax_rate(region='EU')"),
            "saved",
            code_call("rate"),
            "0.21",
            code_call("'rate' in globals()"),
            "fresh",
        ]
    )
    agent = Agent(client=chat, codeact=_codeact(), session=True)
    first = await agent.run("remember the EU rate")
    # The history as an application would store it: JSON and back.
    stored = json.loads(json.dumps([m.to_openai() for m in first.messages]))
    history = [_message(m) for m in stored]
    second = await agent.run("what was it?", history=history)
    assert second.executions[0].value == 0.21, second.executions[0].to_model_text()
    third = await agent.run("a new conversation")
    assert third.executions[0].value is False


async def test_without_session_the_model_is_told_nothing_persists() -> None:
    chat = ScriptedChat([code_call("x = 1"), code_call("x"), "x is gone", "ok", "ok"])
    result = await Agent(client=chat, codeact=_codeact()).run("go")
    assert not result.executions[1].ok  # NameError: a fresh sandbox every time
    assert result.executions[0].session is None
    assert "starts empty every time" in chat.requests[0].tools[0].description
    assert "still there in the next call" not in (chat.requests[0].messages[0].content or "")


def test_session_needs_a_codeact() -> None:
    with pytest.raises(ConfigurationError, match="session=True needs codeact"):
        Agent(client=ScriptedChat(["hi"]), session=True)


def _message(data: dict[str, Any]) -> Message:
    """A message back from its OpenAI JSON form (as stored by an application)."""
    from codeact.chat.messages import ToolCall

    calls = tuple(
        ToolCall(c["id"], c["function"]["name"], c["function"]["arguments"])
        for c in data.get("tool_calls") or []
    )
    return Message(data["role"], data.get("content"), calls, tool_call_id=data.get("tool_call_id"))
