"""The Agent Framework provider with ``sessions=True``: programs of one framework AgentSession
share their variables (kept in the session's state); off by default, as in the reference."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import Agent, Message

from codeact.integrations.agent_framework import CodeActProvider
from codeact.integrations.agent_framework._sessions import STATE_KEY

from .af_scripted_client import ScriptedChatClient, answer_with_result, run_code

pytestmark = pytest.mark.usefixtures("wasm_ready")


def final(text: str) -> Message:
    return Message(role="assistant", contents=[text])


async def test_runs_of_one_agent_session_share_variables_and_other_sessions_do_not() -> None:
    client = ScriptedChatClient(
        [
            run_code("x = 41"),
            final("saved"),
            run_code("x + 1"),
            answer_with_result(),
            run_code("'x' in globals()"),
            answer_with_result(),
        ]
    )
    provider = CodeActProvider(sessions=True, result_format="codeact")
    agent = Agent(client=client, context_providers=[provider])
    session = agent.create_session()
    await agent.run("keep x", session=session)
    again = await agent.run("use x", session=session)
    assert "[value] 42" in again.text, again.text
    other = await agent.run("a new session", session=agent.create_session())
    assert "[value] false" in other.text, other.text
    stored = session.state[provider.source_id][STATE_KEY]
    assert isinstance(json.loads(json.dumps(stored)), str)  # JSON-safe, as sessions are saved
    assert "are kept for the next call" in client.tools_sent()[0].description
    assert "still there in the next call" in client.instructions_sent()


async def test_sessions_are_off_by_default_as_in_the_reference() -> None:
    client = ScriptedChatClient(
        [run_code("x = 41"), final("saved"), run_code("x"), answer_with_result()]
    )
    agent = Agent(client=client, context_providers=[CodeActProvider()])
    session = agent.create_session()
    await agent.run("keep x", session=session)
    again = await agent.run("use x", session=session)
    assert "NameError" in again.text
    assert "starts empty every time" in client.tools_sent()[0].description


async def test_a_state_sealed_elsewhere_is_not_restored_and_the_model_is_told() -> None:
    client = ScriptedChatClient([run_code("'x' in globals()"), answer_with_result()])
    provider = CodeActProvider(sessions=True, result_format="codeact")
    agent = Agent(client=client, context_providers=[provider])
    session = agent.create_session()
    session.state[provider.source_id] = {STATE_KEY: "Y29kZWFjdA=="}  # not a state of ours
    response = await agent.run("go", session=session)
    assert "could not be restored" in response.text
    assert "[value] false" in response.text
