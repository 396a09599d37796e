"""A model's tool call or reply holding JSON nested too deep: the agent tells the model and goes
on (or reads no call in it); it never ends the run with a RecursionError."""

from __future__ import annotations

import json

import pytest

from codeact import Agent, CodeAct, Tool
from codeact._nesting import ARGUMENTS_TOO_DEEP
from codeact.agent.nudges import unknown_tool_called
from codeact.agent.programs import code_of
from codeact.chat import parse_text_tool_calls
from codeact.chat.grammar_tools import parse_tool_calls, render_messages
from codeact.chat.messages import Message, ToolCall
from codeact.testing import ScriptedChat

DEEP = "[" * 5000 + "]" * 5000


def echo_tool(ran: list[object]) -> Tool:
    return Tool.from_schema(
        "echo", {"type": "object", "properties": {"x": {}}}, lambda x=None: ran.append(x)
    )


def test_a_direct_call_nested_too_deep_is_refused_and_the_model_told() -> None:
    ran: list[object] = []
    chat = ScriptedChat([ToolCall(id="c1", name="echo", arguments='{"x": ' + DEEP + "}"), "done"])
    result = Agent(client=chat, tools=[echo_tool(ran)]).run_sync("go")
    assert result.text == "done" and ran == []
    assert [c.outcome for c in result.tool_calls] == ["invalid"]
    told = chat.requests[1].messages[-1]
    assert told.role == "tool" and ARGUMENTS_TOO_DEEP in (told.content or "")


@pytest.mark.usefixtures("wasm_ready")
def test_an_execute_code_call_with_a_deep_argument_beside_its_code_does_not_end_the_run() -> None:
    call = ToolCall(id="c1", name="execute_code", arguments='{"code": "1", "x": ' + DEEP + "}")
    chat = ScriptedChat([call, "done"])
    result = Agent(client=chat, codeact=CodeAct(tools=[echo_tool([])])).run_sync("go")
    assert result.text == "done"
    assert code_of(call) is None


def test_model_text_with_deep_json_holds_no_call_and_raises_nothing() -> None:
    names = ["echo", "execute_code"]
    text = 'Here: {"name": "echo", "arguments": {"x": ' + DEEP + "}} and " + DEEP
    assert parse_text_tool_calls(text, names, code_tool="execute_code") == []
    fenced = "```python\n" + DEEP + "\n```"
    assert parse_text_tool_calls(fenced, names, code_tool="execute_code") != []  # as code
    assert unknown_tool_called('{"name": "other", "arguments": ' + DEEP + "}", names) is None
    block = '<tool_call>\n{"name": "echo", "arguments": {"x": ' + DEEP + "}}\n</tool_call>"
    assert parse_tool_calls(block, names) == (block, ())
    assert ToolCall(id="c", name="echo", arguments=DEEP).arguments == DEEP


def test_a_past_call_nested_too_deep_is_shown_to_a_local_model_as_it_was_sent() -> None:
    call = ToolCall(id="c1", name="echo", arguments='{"x": ' + DEEP + "}")
    rendered = render_messages([Message.user("go"), Message.assistant(None, [call])], [])
    shown = rendered[-1].content or ""
    assert json.loads(shown.split("\n", 1)[1].rsplit("\n", 1)[0])["arguments"] == call.arguments
