"""Tool calls written as text (small models) are recovered only when they name offered tools."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codeact.chat import parse_text_tool_calls

TOOLS = ["list_users", "get_tax_rate", "execute_code"]


def parsed(text: str, **kwargs: Any) -> list[tuple[str, dict[str, object]]]:
    calls = parse_text_tool_calls(text, TOOLS, **kwargs)
    return [(c.name, json.loads(c.arguments)) for c in calls]


def test_fenced_json_object() -> None:
    text = 'Let me look.\n```json\n{"name": "get_tax_rate", "arguments": {"region": "EU"}}\n```'
    assert parsed(text) == [("get_tax_rate", {"region": "EU"})]


def test_hermes_tool_call_tags_and_several_calls() -> None:
    text = (
        '<tool_call>\n{"name": "list_users", "arguments": {}}\n</tool_call>\n'
        '<tool_call>{"name": "get_tax_rate", "arguments": "{\\"region\\": \\"US\\"}"}</tool_call>'
    )
    assert parsed(text) == [("list_users", {}), ("get_tax_rate", {"region": "US"})]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "get_tax_rate", "parameters": {"region": "APAC"}}',
        '{"function": {"name": "get_tax_rate", "arguments": {"region": "APAC"}}}',
        'I will call [{"tool": "get_tax_rate", "args": {"region": "APAC"}}] now',
    ],
)
def test_other_shapes_small_models_use(text: str) -> None:
    assert parsed(text) == [("get_tax_rate", {"region": "APAC"})]


def test_an_echoed_schema_means_no_arguments() -> None:
    text = (
        '```json\n{"name": "list_users", "arguments": {"additionalProperties": false, '
        '"properties": {}, "type": "object"}}\n```'
    )
    assert parsed(text) == [("list_users", {})]


def test_json_that_names_no_offered_tool_is_not_a_call() -> None:
    assert parsed('The result was {"name": "Alice", "total": 48.36}.') == []
    assert parsed('{"name": "delete_everything", "arguments": {}}') == []
    assert parsed("Plain answer, no calls.") == []
    assert parse_text_tool_calls('{"name": "list_users"}', []) == []


def test_python_block_is_execute_code_only_when_a_code_tool_is_named() -> None:
    text = "Here is the program:\n```python\nprint(len(list_users()))\n```\nDone."
    assert parsed(text) == []
    assert parsed(text, code_tool="execute_code") == [
        ("execute_code", {"code": "print(len(list_users()))"})
    ]


def test_a_json_call_of_the_code_tool_wins_over_a_python_block() -> None:
    text = '```json\n{"name": "execute_code", "arguments": {"code": "print(1)"}}\n```'
    assert parsed(text, code_tool="execute_code") == [("execute_code", {"code": "print(1)"})]


def test_recovered_calls_get_distinct_ids() -> None:
    calls = parse_text_tool_calls(
        '[{"name": "list_users"}, {"name": "list_users"}]', TOOLS, id_prefix="turn3"
    )
    assert [c.id for c in calls] == ["turn3_1", "turn3_2"]


def test_a_program_with_json_escaped_quotes_is_unescaped_only_when_that_fixes_it() -> None:
    # Seen from the embedded model: it copies the escaping of its earlier calls into a new
    # fenced program, which then cannot even parse.
    broken = 'for u in list_users():\n    print(u[\\"name\\"])\n'
    text = f"```python\n{broken}```"
    (call,) = parse_text_tool_calls(text, ["execute_code"], code_tool="execute_code")
    assert json.loads(call.arguments)["code"] == 'for u in list_users():\n    print(u["name"])'
    # A program that parses as written keeps its backslashes (they can be meaningful).
    valid = "print('a \\\\\"quoted\\\\\" word')\n"
    (call,) = parse_text_tool_calls(
        f"```python\n{valid}```", ["execute_code"], code_tool="execute_code"
    )
    assert json.loads(call.arguments)["code"] == valid.strip("\n")


def code_calls(text: str, **kwargs: Any) -> list[str]:
    """The programs recovered from `text` for execute_code (sandbox function: list_users)."""
    kwargs.setdefault("code_functions", ["list_users", "send_email"])
    calls = parse_text_tool_calls(text, TOOLS, code_tool="execute_code", **kwargs)
    return [json.loads(c.arguments)["code"] for c in calls]


@pytest.mark.parametrize(
    "text",
    [
        # An answer that shows the user code to run themselves: an email it has NOT sent was
        # sent when this fence ran.
        "Here is the draft; I have NOT sent it. When you are ready, send it with:\n"
        "```python\nsend_email(to='boss@example.com', body='I quit')\n```",
        # The same with the apostrophes chat models write (’, ʼ, ′) and a non-breaking space.
        "Here is the draft; I haven\u2019t sent it. When you\u2019re ready, send it with:\n"
        "```python\nsend_email(to='boss@example.com', body='I quit')\n```",
        "I haven\u02bct sent it.\n```python\nsend_email(to='a', body='b')\n```",
        "When you\u2032re\u00a0ready:\n```python\nsend_email(to='a', body='b')\n```",
        "For example:\n```python\nprint(len(list_users()))\n```",
        "You can run this in your own script:\n```python\nprint(len(list_users()))\n```",
        "Copy this into your notebook:\n```python\nusers = list_users()\n```",
        # Shell lines are never a program: this one ran as Python, failed, and the model's
        # answers were then rejected as a failed program.
        "Install it first:\n```\npip install requests\n```\nThen you are done.",
        "```python\npip install requests\n```",
        "```bash\nlist_users\n```",
        "```\n$ python report.py\n```",
        "```python\n>>> list_users()\n[]\n```",
        # A confirmation awaited: "the call would be" sent the email.
        "I'll wait for your confirmation before sending anything. The call would be:\n"
        "```python\nsend_email(to='all', body='Office closed')\n```\nShall I go ahead?",
        "The call would be:\n```python\nsend_email(to='a', body='b')\n```",
        "The code would look like this:\n```python\nsend_email(to='a', body='b')\n```",
        "Before sending, please check:\n```python\nsend_email(to='a', body='b')\n```",
        "If you want, I can send it:\n```python\nsend_email(to='a', body='b')\n```",
        "Let me know and I will run:\n```python\nsend_email(to='a', body='b')\n```",
        "Here's how:\n```python\nprint(len(list_users()))\n```",
        "To do this, call:\n```python\nprint(len(list_users()))\n```",
        "You'd call:\n```python\nprint(len(list_users()))\n```",
        # A question to the user, before the fence or after it.
        "Should I send this?\n```python\nsend_email(to='a', body='b')\n```",
        "```python\nsend_email(to='a', body='b')\n```\nDoes this look right?",
        # A shell or console fence beside it: install steps, then the code to use.
        "Install it first:\n```bash\npip install requests\n```\nThen:\n"
        "```python\nimport requests\nprint(requests.get('https://x').text)\n```",
        "```console\n$ export KEY=1\n```\n```python\nprint(len(list_users()))\n```",
        "```text\n$ python setup.py\n```\n```python\nprint(len(list_users()))\n```",
        "```powershell\nSet-Item env:KEY 1\n```\n```python\nprint(len(list_users()))\n```",
        "```\npip install rich\n```\nThen:\n```python\nprint(len(list_users()))\n```",
        # An untagged fence that does not call a sandbox function: output, prose, a snippet.
        "The result:\n```\n[1, 2, 3]\n```",
        "```\nx = 1\n```",
    ],
)
def test_code_an_answer_shows_the_user_is_not_a_call(text: str) -> None:
    assert code_calls(text) == []


@pytest.mark.parametrize(
    ("text", "program"),
    [
        ("```python\nprint(len(list_users()))\n```", "print(len(list_users()))"),
        (
            "Here is the program:\n```python\nprint(len(list_users()))\n```\nDone.",
            "print(len(list_users()))",
        ),
        ("Let me compute it.\n```py\nprint(2 ** 10)\n```", "print(2 ** 10)"),
        ("```\nfor u in list_users():\n    print(u)\n```", "for u in list_users():\n    print(u)"),
        # Neutral prose of the model's own next step, and a task restated as a question.
        ("Let me compute that:\n```python\nprint(2 ** 10)\n```", "print(2 ** 10)"),
        ("I'll call the tools:\n```python\nprint(list_users())\n```", "print(list_users())"),
        (
            "How many users are there? Let me check:\n```python\nprint(len(list_users()))\n```",
            "print(len(list_users()))",
        ),
        (
            "To do this, I\u2019ll count:\n```py\nprint(len(list_users()))\n```",
            "print(len(list_users()))",
        ),
        # Shell words inside a string of the program, or as a name: still the program.
        (
            "```python\nmsg = '''\ncat food order\n'''\nsend_email(to='a', body=msg)\n```",
            "msg = '''\ncat food order\n'''\nsend_email(to='a', body=msg)",
        ),
        ("```python\nrm = 5\nrm -= 1\nprint(rm)\n```", "rm = 5\nrm -= 1\nprint(rm)"),
    ],
)
def test_a_reply_that_is_a_program_is_still_a_call(text: str, program: str) -> None:
    assert code_calls(text) == [program]


def test_fences_are_not_read_when_the_model_calls_tools_natively() -> None:
    assert code_calls("```python\nprint(len(list_users()))\n```", fences=False) == []
    # A call in the tool-call format is still one.
    text = '<tool_call>{"name": "list_users", "arguments": {}}</tool_call>'
    assert parsed(text, code_tool="execute_code", fences=False) == [("list_users", {})]
