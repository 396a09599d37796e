"""The embedded model's tool calls in its own format, held to a grammar: the prompt, the
grammar and the parsing, without a model (the real model: test_local_model.py)."""

from __future__ import annotations

import json

from codeact.chat.grammar_tools import parse_tool_calls, render_messages, tool_call_grammar
from codeact.chat.messages import Message, ToolCall, ToolDefinition

TOOLS = [
    ToolDefinition(
        "execute_code",
        "Run a Python program.",
        {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    ),
    ToolDefinition("get_rate", "A rate.", {"type": "object", "properties": {}}),
]


def test_the_conversation_is_rendered_as_the_models_template_does() -> None:
    call = ToolCall(id="c1", name="execute_code", arguments=json.dumps({"code": "print(1)"}))
    rendered = render_messages(
        [
            Message.system("Be precise."),
            Message.user("Go."),
            Message.assistant(None, [call, ToolCall(id="c2", name="get_rate", arguments="{}")]),
            Message.tool(call, "1"),
            Message.tool(call, "0.2"),
        ],
        TOOLS,
    )
    assert [m.role for m in rendered] == ["system", "user", "assistant", "user"]
    system = rendered[0].content or ""
    assert system.startswith("Be precise.\n\n# Tools\n")
    assert '"name": "execute_code"' in system and "<tool_call></tool_call> XML tags" in system
    assert rendered[2].content == (
        '<tool_call>\n{"name": "execute_code", "arguments": {"code": "print(1)"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_rate", "arguments": {}}\n</tool_call>'
    )
    assert not rendered[2].tool_calls
    assert rendered[3].content == (
        "<tool_response>\n1\n</tool_response>\n<tool_response>\n0.2\n</tool_response>"
    )


def test_a_conversation_without_a_system_message_gets_one_with_the_tools() -> None:
    rendered = render_messages([Message.user("hi")], TOOLS)
    assert rendered[0].role == "system" and (rendered[0].content or "").startswith("# Tools")


def test_tool_call_blocks_become_calls_and_other_replies_stay_text() -> None:
    reply = (
        '<tool_call>\n{"name": "execute_code", "arguments": {"code": "print(\\"a\\")"}}\n'
        '</tool_call>\n<tool_call>\n{"name": "get_rate", "arguments": {}}\n</tool_call>'
    )
    text, calls = parse_tool_calls(reply, ["execute_code", "get_rate"])
    assert text is None and [c.name for c in calls] == ["execute_code", "get_rate"]
    assert json.loads(calls[0].arguments) == {"code": 'print("a")'}
    assert parse_tool_calls("Answer: 42", ["execute_code"]) == ("Answer: 42", ())
    unknown = '<tool_call>\n{"name": "nope", "arguments": {}}\n</tool_call>'
    assert parse_tool_calls(unknown, ["execute_code"]) == (unknown, ())


def test_the_grammar_names_only_the_offered_tools_and_forbids_fences_in_answers() -> None:
    grammar = tool_call_grammar(["execute_code", "get_rate"])
    assert 'name ::= "\\"execute_code\\"" | "\\"get_rate\\""' in grammar
    assert "answer ::= [^{<`" in grammar and "[^`]*" in grammar
    assert grammar.startswith("root ::= calls | answer")
