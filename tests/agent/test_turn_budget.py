"""`Agent(max_turn_output=...)`: one turn's tool results together stay within a budget.

The history is re-sent every turn; each program's output was capped, but not how many a reply
runs: forty calls of 1 MiB each made every later request 40 MiB larger.
"""

from __future__ import annotations

import pytest

from codeact import Agent, CodeAct, ConfigurationError, MockBackend, tool
from codeact.agent.turn_budget import FLOOR, within_budget
from codeact.testing import ScriptedChat, call, code_call, reply


def _loud_codeact() -> CodeAct:
    # Each program's value is 50,000 characters of text.
    return CodeAct(backend=MockBackend(lambda code, call_tool: code[0] * 50_000))


async def test_a_turns_results_together_keep_to_the_budget() -> None:
    calls = [code_call(letter) for letter in "abcdefgh"]
    chat = ScriptedChat([reply(None, *calls), "done"])
    agent = Agent(client=chat, codeact=_loud_codeact(), max_turn_output=120_000)
    result = await agent.run("go")
    answers = [m.content or "" for m in chat.requests[1].messages if m.role == "tool"]
    assert len(answers) == 8 and result.text == "done"
    total = sum(len(a) for a in answers)
    assert total < 120_000 + 8 * (FLOOR + 300)  # was 8 x 50,000 and more
    assert "a" * 49_000 in answers[0] and "b" * 49_000 in answers[1]  # the first ones whole
    assert "more characters cut: this turn's tool results reached" in answers[-1]
    assert answers[-1].count("h") >= FLOOR - 100  # every result keeps its start
    assert result.usage.code_executions == 8  # every program ran


def test_a_result_within_what_is_left_is_kept_whole() -> None:
    assert within_budget("abc", 10, 10) == ("abc", 7)
    cut, left = within_budget("x" * 5000, 100, 3000)
    assert cut.startswith("x" * FLOOR) and left == 0 and "4,900" not in cut
    assert "3,000 more characters cut" in cut


@pytest.mark.parametrize("bad", [0, 999, True, 1.5, "1000"])
def test_the_budget_is_checked(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="max_turn_output must be a whole number"):
        Agent(client=ScriptedChat(["x"]), max_turn_output=bad)  # type: ignore[arg-type]


def test_a_short_result_after_the_budget_is_spent_is_whole_without_a_note() -> None:
    # Was "ok\n[-1,998 more characters cut: ...]": a note on a result nothing was cut from.
    assert within_budget("ok", 0, 3000) == ("ok", 0)
    assert within_budget("x" * FLOOR, 10, 3000) == ("x" * FLOOR, 0)
    cut, _ = within_budget("x" * (FLOOR + 1), 10, 3000)
    assert "\n[1 more characters cut" in cut


async def test_a_short_result_of_a_turn_past_its_budget_reaches_the_model_as_it_is() -> None:
    @tool
    def big() -> str:
        """A large result."""
        return "y" * 5000

    @tool
    def small() -> str:
        """A small result."""
        return "ok"

    chat = ScriptedChat([[call("big"), call("small")], "done"])
    await Agent(client=chat, tools=[big, small], max_turn_output=1000).run("go")
    answers = [m.content for m in chat.requests[1].messages if m.role == "tool"]
    assert "more characters cut" in (answers[0] or "")
    assert answers[1] == "ok"
