"""What `Agent` checks of a chat client (and the other options of the clients in
`codeact.chat`) at construction: one `ConfigurationError` line, not a failure inside a run."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from codeact import Agent, ConfigurationError
from codeact.chat import ChatResponse, LocalChat, LocalModel, Message, OpenAIChat

from .conftest import FakeOpenAI


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


_NAN, _INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", _NAN),
        ("timeout", _INF),
        ("timeout", 0),
        ("timeout", -1.0),
        ("timeout", "30"),
        ("timeout", True),
        ("max_retries", 1.5),
        ("max_retries", True),
        ("max_retries", -1),
        ("max_retries", 10**400),
        ("backoff", _NAN),
        ("backoff", -0.5),
        ("max_backoff", _INF),
        ("max_backoff", None),
        ("max_reply_bytes", 1e6),
        ("max_reply_bytes", 0),
        ("temperature", _NAN),
        ("temperature", -0.1),
        ("temperature", "0.2"),
        ("max_tokens", 0),
        ("max_tokens", 256.0),
        ("max_tokens", False),
    ],
)
def test_openai_chat_refuses_a_numeric_option_out_of_range_or_of_the_wrong_type(
    fake_openai: FakeOpenAI, option: str, value: Any
) -> None:
    """Refused where it is given, naming the option, in one line; the server is never asked
    (a NaN timeout used to fail every attempt as a server that "did not answer in time")."""
    with pytest.raises(ConfigurationError) as raised:
        OpenAIChat(base_url=fake_openai.url, model="m", env={}, **{option: value})
    message = str(raised.value)
    assert f"OpenAIChat({option}=)" in message and "\n" not in message and len(message) < 200
    assert fake_openai.requests == []


async def test_openai_chat_takes_numbers_at_the_edges_of_their_ranges(
    fake_openai: FakeOpenAI,
) -> None:
    chat = OpenAIChat(
        base_url=fake_openai.url,
        model="m",
        env={},
        timeout=1,
        max_retries=0,
        backoff=0,
        max_backoff=0.0,
        temperature=0,
        max_tokens=1,
        max_reply_bytes=1 << 20,
    )
    assert (await chat.complete([Message.user("hi")])).text == "hello"
    assert (
        fake_openai.requests[0]["temperature"] == 0 and fake_openai.requests[0]["max_tokens"] == 1
    )
    await chat.aclose()


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: LocalChat(temperature=_NAN), "LocalChat(temperature=)"),
        (lambda: LocalChat(max_tokens=0), "LocalChat(max_tokens=)"),
        (lambda: LocalChat(max_tokens=1.5), "LocalChat(max_tokens=)"),  # type: ignore[arg-type]
        (lambda: LocalModel(context=8192.0), "LocalModel(context=)"),  # type: ignore[arg-type]
        (lambda: LocalModel(threads=0), "LocalModel(threads=)"),
        (lambda: LocalModel(start_timeout=_NAN), "LocalModel(start_timeout=)"),
        (lambda: LocalModel(start_timeout=True), "LocalModel(start_timeout=)"),
    ],
)
def test_the_embedded_model_refuses_a_numeric_option_out_of_range(
    make: Callable[[], object], named: str
) -> None:
    """Checked at construction, not when the model starts (or its first request)."""
    with pytest.raises(ConfigurationError, match=re.escape(named)):
        make()
