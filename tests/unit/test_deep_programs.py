"""A program nested too deep for the host to read (its parser runs out of stack, or the host's
walk of the tree recurses too far) is read as one that does not parse: the static scan, block
approval and the agent's checks of a model's program never raise for it."""

from __future__ import annotations

import asyncio
import json

import pytest

from codeact import Agent, CodeAct, Tool
from codeact.agent.cut_programs import close_cut_string
from codeact.agent.key_hints import _holder
from codeact.agent.loop_hints import stale_loop_variable_hint
from codeact.agent.program_check import shadowed_tools, unwrap_code_tool_call
from codeact.calls.scan import scan_tool_calls
from codeact.chat import parse_text_tool_calls
from codeact.chat.messages import ToolCall
from codeact.testing import ScriptedChat

TOO_DEEP = [
    pytest.param("x = " + "-" * 20_000 + "1", id="parser-stack"),  # MemoryError
    pytest.param("x = " + "not " * 5_000 + "1", id="ast-construction"),  # RecursionError
    pytest.param("x = " + "not " * 700 + "1", id="host-walk"),  # parses; visiting recurses
    pytest.param("for i in f():\n    y = " + "not " * 700 + "i\n", id="loop-body"),
]


def echo_tool(*, gated: bool = False) -> Tool:
    return Tool.from_schema(
        "echo",
        {"type": "object", "properties": {"x": {}}},
        lambda x=None: x,
        approval_mode="always_require" if gated else "never_require",
    )


@pytest.mark.parametrize("code", TOO_DEEP)
def test_the_static_scan_reads_it_as_code_that_does_not_parse(code: str) -> None:
    plan = scan_tool_calls(code + "\necho(x=1)", ["echo"], gated=["echo"])
    assert plan.syntax_error is not None and not plan.complete


@pytest.mark.parametrize("code", TOO_DEEP)
def test_the_agents_checks_of_a_program_never_raise(code: str) -> None:
    assert shadowed_tools(code, ["echo"]) == []
    assert unwrap_code_tool_call(code, "execute_code") is None
    assert close_cut_string(code) is None
    assert stale_loop_variable_hint(code) is None
    assert _holder(code, 2, ["f"]) in (None, ("i", 1, "for i in f():"))  # for a KeyError
    fenced = "```python\n" + code + "\n```"
    assert [
        c.name for c in parse_text_tool_calls(fenced, ["execute_code"], code_tool="execute_code")
    ]


def test_a_gated_tool_set_runs_such_a_program_without_the_host_raising() -> None:
    codeact = CodeAct(tools=[echo_tool(gated=True)])
    result = asyncio.run(codeact.execute("x = " + "-" * 20_000 + "1"))
    assert result.error is not None  # the sandbox's own report: the program does not run


def test_an_agent_given_such_a_program_goes_on() -> None:
    code = "x = " + "-" * 20_000 + "1"
    call = ToolCall(id="c1", name="execute_code", arguments=json.dumps({"code": code}))
    chat = ScriptedChat([call, "done", "done", "done"])  # the agent may ask it to go on
    result = Agent(client=chat, codeact=CodeAct(tools=[echo_tool()])).run_sync("go")
    assert result.text == "done"
