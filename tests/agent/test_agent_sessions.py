"""`Agent(session=True)`: the programs of a run (and of a conversation continued with
``history=``) share their variables; without it, nothing is said or kept."""

from __future__ import annotations

import json

import pytest

from codeact import Agent, CodeAct, ConfigurationError
from codeact.agent.sessions import ConversationSessions
from codeact.chat.messages import Message
from codeact.testing import ChatRequest, FunctionChat, Reply, ScriptedChat, code_call
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
    history = [Message.from_openai(m) for m in stored]
    second = await agent.run("what was it?", history=history)
    assert second.executions[0].value == 0.21, second.executions[0].to_model_text()
    third = await agent.run("a new conversation")
    assert third.executions[0].value is False


async def test_every_continuation_of_a_conversation_starts_from_its_state() -> None:
    """Two runs continue the same prefix (N rollouts from one prefix, a retried follow-up):
    each starts from the prefix's state, and what one branch does is not seen by the other
    (before, the first continuation took the session and the second started empty)."""
    programs = {"set x": "x = 41 + 1", "add one to x": "x = x + 1\nx", "what is x?": "x"}

    def model(request: ChatRequest) -> Reply:
        program = programs.get(request.messages[-1].content or "")
        return "done" if program is None else code_call(program)

    chat = FunctionChat(model)
    agent = Agent(client=chat, codeact=_codeact(), session=True)
    prefix = list((await agent.run("set x")).messages)
    first = await agent.run("add one to x", history=prefix)
    assert first.executions[0].value == 43, first.executions[0].to_model_text()
    for _ in range(2):
        branch = await agent.run("what is x?", history=prefix)
        assert branch.executions[0].value == 42, branch.executions[0].to_model_text()
    # The first branch's own conversation goes on from its own state.
    assert agent.sessions is not None and len(agent.sessions) == 4


def test_kept_conversations_are_bounded_and_the_oldest_unused_goes_first() -> None:
    codeact = _codeact()
    kept = ConversationSessions(codeact, kept=2)
    talks = [[Message.user(f"talk {i}")] for i in range(3)]
    for talk in talks[:2]:
        kept.remember(talk, codeact.session())
    kept.for_run(talks[0])  # used: now the most recent
    kept.remember(talks[2], codeact.session())
    assert len(kept) == 2
    assert kept.knows(talks[0]) and kept.knows(talks[2]) and not kept.knows(talks[1])


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


async def test_a_history_of_openai_dicts_continues_its_session() -> None:
    """``history=`` takes the dicts `Message.to_openai` gives, as loaded from JSON (before,
    a bare AttributeError: 'dict' object has no attribute 'to_openai')."""
    chat = ScriptedChat(
        [code_call("rate = get_tax_rate(region='EU')"), "saved", code_call("rate"), "0.21"]
    )
    agent = Agent(client=chat, codeact=_codeact(), session=True)
    first = await agent.run("remember the EU rate")
    stored = json.loads(json.dumps([m.to_openai() for m in first.messages]))
    second = await agent.run("what was it?", history=stored)
    assert second.executions[0].value == 0.21, second.executions[0].to_model_text()
    sent = [m.to_openai() for m in chat.requests[2].messages[: len(stored)]]
    assert sent == stored
