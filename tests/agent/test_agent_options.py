"""`Agent`'s options are checked when it is made: one `ConfigurationError` line saying what
the option takes, before any model request is paid for (``progress=True`` used to be accepted
and end the run in a bare ``TypeError`` after the first reply)."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import Agent, CodeAct, ConfigurationError, tool
from codeact.testing import ScriptedChat, code_call


async def _async_progress(line: str) -> None:
    del line


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"progress": True}, "progress must be a function called with one line of text"),
        ({"progress": "stderr"}, "progress must be a function"),
        ({"progress": _async_progress}, "progress must be a plain function, not an async one"),
        ({"on_program_event": True}, "on_program_event must be a function"),
        ({"text_tool_calls": "no"}, "text_tool_calls must be True or False, got 'no'"),
        ({"tools_required": None}, "tools_required must be True or False, got None"),
        ({"session": "yes", "codeact": CodeAct()}, "session must be True or False"),
        ({"max_turns": True}, "max_turns must be a positive whole number, got True"),
        ({"max_turns": 2.5}, "max_turns must be a positive whole number"),
        ({"output_retries": -1}, r"output_retries must be a whole number >= 0, got -1"),
        ({"output_retries": False}, "output_retries must be a whole number >= 0"),
        ({"instructions": None}, "instructions must be a str"),
        ({"approval_handler": True}, "approval_handler must be an async callable"),
        ({"output_type": dict}, "output_type must be a pydantic model class"),
    ],
)
def test_a_wrong_option_is_one_line_when_the_agent_is_made(
    options: dict[str, Any], says: str
) -> None:
    chat = ScriptedChat([code_call("print(1)"), "1"])
    with pytest.raises(ConfigurationError, match=says) as caught:
        Agent(client=chat, **options)
    assert "\n" not in str(caught.value)
    assert chat.requests == []  # nothing paid for


def test_progress_takes_a_function_and_runs_with_it() -> None:
    @tool
    def f() -> int:
        """f"""
        return 1

    lines: list[str] = []
    chat = ScriptedChat([code_call("print(f())"), "1"])
    agent = Agent(client=chat, codeact=CodeAct(tools=[f]), progress=lines.append)
    assert agent.run_sync("q").text == "1"
    assert any(line.startswith("turn 1:") for line in lines)
