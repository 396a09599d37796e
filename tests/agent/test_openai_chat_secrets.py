"""An endpoint's secrets (a base URL's password, a key in its query string, the API key) are
never shown: not in a `ChatError`, a repr, or the HTTP client's log lines. They go in logs
and bug reports."""

from __future__ import annotations

import logging
import socket

import pytest

from codeact import ChatError
from codeact.chat import Endpoint, Message, OpenAIChat
from codeact.errors import ModelNotConfigured

from .conftest import FakeOpenAI, error

_SECRETS = ("s3cret", "K3Y", "sk-live-abcdef")


def _with_credentials(url: str, query: str = "") -> str:
    return url.replace("http://", "http://proxyuser:s3cret@", 1) + query


def _shows_none(text: str) -> None:
    for secret in _SECRETS:
        assert secret not in text, text


async def test_a_failed_request_shows_the_endpoint_without_its_password(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.script(error(500, "the server failed"))
    url = _with_credentials(fake_openai.url)
    chat = OpenAIChat(base_url=url, model="m", env={}, max_retries=0, api_key="sk-live-abcdef")
    with caplog.at_level(logging.DEBUG), pytest.raises(ChatError) as raised:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert len(fake_openai.requests) == 1  # the credentials still went to the server
    message = str(raised.value)
    assert "failed (HTTP 500)" in message and "http://proxyuser:***@127.0.0.1:" in message
    _shows_none(message)
    assert "proxyuser:***@" in caplog.text  # the HTTP client's "HTTP Request: POST ..." line
    _shows_none(caplog.text)
    _shows_none(repr(chat) + repr(chat.endpoint))


async def test_a_server_that_echoes_the_url_or_key_has_them_hidden(fake_openai: FakeOpenAI) -> None:
    url = _with_credentials(fake_openai.url)
    fake_openai.script(error(403, f"no access to {url} with key sk-live-abcdef"))
    chat = OpenAIChat(base_url=url, model="m", env={}, max_retries=0, api_key="sk-live-abcdef")
    with pytest.raises(ChatError) as raised:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert "refused the credentials (HTTP 403)" in str(raised.value)
    _shows_none(str(raised.value))


async def test_an_unreachable_endpoint_is_named_without_its_password_or_query_key() -> None:
    with socket.socket() as sock:  # a port of 127.0.0.1 that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = _with_credentials(f"http://127.0.0.1:{port}/v1", "?api-key=K3Y&v=1")
    chat = OpenAIChat(base_url=url, model="m", env={}, max_retries=0, timeout=5)
    with pytest.raises(ChatError) as raised:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    message = str(raised.value)
    assert message.startswith("cannot reach the model endpoint http://proxyuser:***@127.0.0.1:")
    assert "?api-key=***&v=1" in message
    _shows_none(message)


async def test_a_server_of_several_models_names_the_endpoint_without_its_secrets(
    fake_openai: FakeOpenAI,
) -> None:
    """No model given: the server is asked for its only model; it serves two."""
    fake_openai.models = ["a", "b"]
    url = _with_credentials(fake_openai.url, "?token=K3Y")
    chat = OpenAIChat(base_url=url, env={}, max_retries=0)
    with pytest.raises(ModelNotConfigured) as raised:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert "proxyuser:***@" in str(raised.value)
    _shows_none(str(raised.value))


@pytest.mark.parametrize(
    "make",
    [
        lambda: OpenAIChat(base_url="proxyuser:s3cret@127.0.0.1:8080/v1", env={}),
        lambda: OpenAIChat(base_url="ftp://proxyuser:s3cret@127.0.0.1/v1?token=K3Y", env={}),
        lambda: OpenAIChat(azure_endpoint="https://u:s3cret@x.openai.azure.com", env={}),
    ],
)
def test_a_configuration_error_shows_no_secret_of_the_url(make: object) -> None:
    with pytest.raises(ModelNotConfigured) as raised:
        make()  # type: ignore[operator]
    _shows_none(str(raised.value))


def test_urls_are_redacted_by_one_helper() -> None:
    from codeact.chat.endpoint import redact_urls

    assert redact_urls("http://u:p@ss@h:1/v1?key=K&token=T&api_version=1") == (
        "http://u:***@h:1/v1?key=***&token=***&api_version=1"
    )
    assert redact_urls("http://h:8080/v1 and user@example.org") == (
        "http://h:8080/v1 and user@example.org"
    )
    assert redact_urls("https://ghp_T0KEN@h/v1") == "https://***@h/v1"  # a token as user name
    assert redact_urls("http://h/v1?pass=P&code=C") == "http://h/v1?pass=***&code=***"
    # a URL inside JSON text, its slashes escaped
    assert redact_urls("http:\\/\\/u:pw@h\\/v1") == "http:\\/\\/u:***@h\\/v1"
    endpoint = Endpoint(url="https://u:s3cret@h/v1?sig=K3Y", api_key="sk-live-abcdef", model="m")
    _shows_none(repr(endpoint) + endpoint.describe())
