"""What `Agent` checks of a chat client (and the other options of the clients in
`codeact.chat`) at construction: one `ConfigurationError` line, not a failure inside a run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from codeact import Agent, ConfigurationError
from codeact.chat import ChatResponse, Message


class _OnlyComplete:
    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> ChatResponse:
        return ChatResponse(text="echo")


class _WithModel(_OnlyComplete):
    model = "echo"


class _Whole(_WithModel):
    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize(
    ("client", "lacks"),
    [
        (_OnlyComplete(), "lacks model (a str) and aclose()"),
        (_WithModel(), "lacks aclose()"),
    ],
)
def test_a_client_without_model_or_aclose_is_refused_saying_what_a_client_has(
    client: object, lacks: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Agent(client=client)  # type: ignore[arg-type]
    message = str(raised.value)
    assert "\n" not in message and lacks in message
    for member in ("`model`", "`async complete(", "`async aclose()`"):
        assert member in message


def test_a_client_with_model_complete_and_aclose_runs() -> None:
    agent = Agent(client=_Whole())
    assert agent.run_sync("hi").text == "echo"
    agent.close()


def test_a_model_name_as_the_client_says_how_to_make_one() -> None:
    with pytest.raises(ConfigurationError, match=r"client=OpenAIChat\(model='gpt-4\.1'\)"):
        Agent(client="gpt-4.1")  # type: ignore[arg-type]
