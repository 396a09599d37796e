"""`Message.from_openai` is the inverse of `Message.to_openai`, and ``Agent.run(history=)``
takes either form; anything else is one `UserError` line saying what it takes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codeact import Agent, UserError
from codeact.chat.messages import Message, ToolCall
from codeact.testing import ScriptedChat

CALL = ToolCall("call_1", "execute_code", '{"code": "1 + 1"}')
CONVERSATION = [
    Message.system("Be brief."),
    Message.user("What is 1 + 1?"),
    Message.assistant(None, [CALL]),
    Message.tool(CALL, "2"),
    Message.assistant("2", [ToolCall("call_2", "get", "{}"), ToolCall("call_3", "put")]),
]


def test_from_openai_is_the_inverse_of_to_openai() -> None:
    stored = json.loads(json.dumps([m.to_openai() for m in CONVERSATION]))
    loaded = [Message.from_openai(m) for m in stored]
    assert [m.to_openai() for m in loaded] == stored
    assert loaded[2].tool_calls == (CALL,)
    assert loaded[3].tool_call_id == "call_1" and loaded[3].role == "tool"
    assert loaded[:3] == CONVERSATION[:3]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"role": "robot", "content": "x"}, "role is one of system, user, assistant, tool"),
        ({"content": "x"}, "not None"),
        ({"role": "user", "content": 3}, "content is a str or None, not int"),
        ({"role": "assistant", "tool_calls": "x"}, "tool_calls are a list, not str"),
        ({"role": "assistant", "tool_calls": [{"id": "1"}]}, "a tool call is"),
        ({"role": "tool", "content": "x", "tool_call_id": 5}, "tool_call_id is a str"),
    ],
)
def test_from_openai_refuses_what_is_not_a_message(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=r"^a ") as caught:
        Message.from_openai(data)
    assert says in str(caught.value)


async def test_run_takes_a_history_of_openai_dicts() -> None:
    chat = ScriptedChat(["hello"])
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}]
    result = await Agent(client=chat).run("hi", history=history)
    assert result.text == "hello"
    sent = [m.to_openai() for m in chat.requests[0].messages]
    assert sent == [*history, {"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("history", "says"),
    [
        ("earlier", "got str"),
        ({"role": "user", "content": "earlier"}, "got dict"),
        (["earlier"], "history[0] is a str"),
        ([Message.user("a"), {"role": "user"}, {"role": "bot"}], "history[2]: a message's role"),
    ],
)
async def test_run_refuses_any_other_history_in_one_line(history: Any, says: str) -> None:
    chat = ScriptedChat(["hello"])
    with pytest.raises(UserError, match=r"^history takes a list of Message objects") as caught:
        await Agent(client=chat).run("hi", history=history)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert not chat.requests


def test_a_history_nested_too_deep_is_one_line_not_a_recursion_error() -> None:
    from codeact import UserError
    from codeact.agent.agent import history_messages

    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": deep}}]
    for message in (
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "assistant", "content": None, "tool_calls": [{"x": deep}]},
    ):
        with pytest.raises(UserError, match=r"history\[0\]: a tool call is"):
            history_messages([message])
