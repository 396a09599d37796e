"""The OpenAI Agents SDK tool's approvals, driven by the SDK's own `Runner` and a fake `Model`
(`test_openai_agents.FakeModel`): what a person approves through ``needs_approval`` runs."""

from __future__ import annotations

import pytest

pytest.importorskip("agents", reason="needs pip install -e '.[openai-agents]'")

from agents import Agent, Runner
from agents.tracing import set_trace_processors

from codeact.integrations.openai_agents import codeact_tool

from .test_openai_agents import SENT, FakeModel, send_email

pytestmark = pytest.mark.usefixtures("wasm_ready")


@pytest.fixture(autouse=True)
def no_trace_export() -> None:
    """The SDK's default processor would export traces to OpenAI: no test talks to it."""
    set_trace_processors([])


async def test_an_approved_loop_sends_as_often_as_the_loop_runs() -> None:
    SENT.clear()
    code = 'for to in ["a@x", "b@x", "c@x"]:\n    send_email(to=to, body="hi")'
    agent = Agent(name="a", tools=[codeact_tool(tools=[send_email])], model=FakeModel(code))
    first = await Runner.run(agent, "mail all")
    (item,) = first.interruptions
    assert SENT == []
    state = first.to_state()
    state.approve(item)
    second = await Runner.run(agent, state)
    assert SENT == ["a@x", "b@x", "c@x"]
    assert "denied" not in second.final_output
