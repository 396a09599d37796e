"""The embedded model's tool calls in its own format, held to a grammar: the prompt, the
grammar and the parsing, without a model (the real model: test_local_model.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from codeact.chat.grammar_tools import (
    CALL_PREFIX,
    complete_with_grammar,
    examples_as_calls,
    parse_tool_calls,
    render_messages,
    tool_call_grammar,
)
from codeact.chat.messages import (
    ChatResponse,
    Message,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolDefinition,
)
from codeact.chat.openai_chat import OpenAIChat

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


def test_an_example_program_in_the_instructions_is_shown_as_the_call_that_runs_it() -> None:
    """The model sees the example in the form it must write: a call with the program as
    JSON-escaped code (quotes and newlines escaped), which reads back as the same program."""
    program = 'rows = []\nfor s in list_stores():\n    print(f"{s[\'name\']}: \\"x\\"")\n'
    system = f"Work in code.\n\nExample:\n\n```python\n{program}```\n\nThen answer."
    rendered = render_messages([Message.system(system), Message.user("Go.")], TOOLS)
    content = rendered[0].content or ""
    assert "```" not in content.split("# Tools")[0]
    block = content.split("<tool_call>\n", 1)[1].split("\n</tool_call>", 1)[0]
    assert json.loads(block) == {"name": "execute_code", "arguments": {"code": program}}
    assert content.startswith("Work in code.\n\nExample:\n\n<tool_call>\n")
    assert "</tool_call>\n\nThen answer." in content


def test_examples_stay_fenced_without_a_tool_that_takes_a_program() -> None:
    system = "Example:\n```python\nprint(1)\n```\n```json\n{}\n```"
    without = [t for t in TOOLS if t.name != "execute_code"]
    assert examples_as_calls(system, without) == system
    assert examples_as_calls(system, TOOLS) == (
        'Example:\n<tool_call>\n{"name": "execute_code", "arguments": {"code": "print(1)\\n"}}'
        "\n</tool_call>\n```json\n{}\n```"
    )
    # Only the system message: a user's fenced program is the user's own words.
    rendered = render_messages([Message.user("```python\nprint(2)\n```")], TOOLS)
    assert rendered[-1].content == "```python\nprint(2)\n```"


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


def test_a_block_cut_short_or_with_stray_characters_still_becomes_the_call() -> None:
    # What the embedded model wrote: no closing tag, and a ")" after the code string.
    reply = (
        '<tool_call>\n{"name": "execute_code", "arguments": '
        '{"code": "print(reverse_string(\'a\')"})}}'
    )
    text, calls = parse_tool_calls(reply, ["execute_code"])
    assert text is None and json.loads(calls[0].arguments) == {"code": "print(reverse_string('a')"}
    unclosed = '<tool_call>\n{"name": "get_rate", "arguments": {}}'
    assert [c.name for c in parse_tool_calls(unclosed, ["get_rate"])[1]] == ["get_rate"]
    assert parse_tool_calls('<tool_call>\n{"name": "execute_code", "arg', ["execute_code"])[1] == ()


class Canned(OpenAIChat):
    """An OpenAI-compatible client whose server is `answer(messages)`; it keeps what it sent."""

    def __init__(self, answer: Callable[[Sequence[Message]], str]) -> None:
        super().__init__(model="m", base_url="http://127.0.0.1:9/v1", env={})
        self.answer = answer
        self.sent: list[dict[str, Any]] = []

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        response_format: ResponseFormat | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatResponse:
        self.sent.append({"messages": list(messages), "extra": dict(self.extra_body)})
        return ChatResponse(text=self.answer(messages))


async def test_a_reply_that_must_be_a_call_is_begun_as_one_later_in_the_conversation() -> None:
    """``tool_choice="required"`` (the agent asks for it after a failed program): the reply
    is begun as a call however far the conversation is, and comes back as a call."""
    chat = Canned(lambda messages: 'execute_code", "arguments": {"code": "print(2)"}}')
    earlier = [Message.user("go"), Message.assistant("1"), Message.user("again")]
    response = await complete_with_grammar(chat, earlier, TOOLS, grammar=False, call_due=True)
    assert chat.sent[0]["messages"][-1].content == CALL_PREFIX
    assert response.tool_calls[0].name == "execute_code"
    assert json.loads(response.tool_calls[0].arguments) == {"code": "print(2)"}
    free = Canned(lambda messages: "Answer: 2")
    answer = await complete_with_grammar(free, earlier, TOOLS, grammar=False)
    assert free.sent[0]["messages"][-1].role == "user" and answer.text == "Answer: 2"


async def test_the_first_reply_is_begun_as_a_call_and_later_ones_are_free() -> None:
    chat = Canned(
        lambda messages: (
            'execute_code", "arguments": {"code": "print(1)"}}'
            if messages[-1].role == "assistant"
            else "Answer: 1"
        )
    )
    first = await complete_with_grammar(chat, [Message.user("go")], TOOLS, grammar=True)
    assert chat.sent[0]["messages"][-1].content == CALL_PREFIX
    assert chat.sent[0]["extra"] == {}  # the begun call needs no grammar
    assert [c.name for c in first.tool_calls] == ["execute_code"]
    later = [
        Message.user("go"),
        Message.assistant(None, first.tool_calls),
        Message.tool(first.tool_calls[0], "1"),
    ]
    second = await complete_with_grammar(chat, later, TOOLS, grammar=True)
    assert "grammar" in chat.sent[1]["extra"]
    assert second.text == "Answer: 1" and not second.tool_calls
    await chat.aclose()


async def test_a_begun_call_the_model_starts_over_is_read() -> None:
    """Seen on the embedded model: it wrote the whole call again after the begun prefix."""
    chat = Canned(
        lambda _: '<tool_call>\n{"name": "execute_code", "arguments": {"code": "print(1)"}}'
    )
    reply = await complete_with_grammar(chat, [Message.user("go")], TOOLS, grammar=True)
    assert reply.text is None
    assert [json.loads(c.arguments) for c in reply.tool_calls] == [{"code": "print(1)"}]
    await chat.aclose()


def test_calls_naming_their_arguments_parameters_are_read_too() -> None:
    reply = '<tool_call>\n{"name": "get_rate", "parameters": {"region": "EU"}}\n</tool_call>'
    _, calls = parse_tool_calls(reply, ["get_rate"])
    assert json.loads(calls[0].arguments) == {"region": "EU"}


def test_unescaped_quotes_inside_the_code_do_not_cut_the_program() -> None:
    # What the embedded model wrote in the demo: the program ran cut at `print(f'{user[`.
    reply = (
        '<tool_call>\n{"name": "execute_code", "arguments": {"code": "for user in users:\n'
        '    print(f\'{user["id"]}: {user["name"]}\\t\')\\nprint(\\"done\\")"}}\n'
        "</tool_call>"
    )
    text, calls = parse_tool_calls(reply, ["execute_code"])
    assert text is None
    assert json.loads(calls[0].arguments)["code"] == (
        'for user in users:\n    print(f\'{user["id"]}: {user["name"]}\t\')\nprint("done")'
    )
