"""`OpenAIChat` against a real chat-completions HTTP server on 127.0.0.1 (started by the test).

Replies that are not what they should be (not a chat completion, fields of odd types, broken
streams) are test_openai_chat_bad_replies.py."""

from __future__ import annotations

import socket
import time

import pytest

from codeact import ChatError, ModelNotConfigured
from codeact.chat import Message, OpenAIChat, ToolCall, resolve_endpoint
from codeact.chat.endpoint import endpoint_configured

from .conftest import ADD, FakeOpenAI, chat_for, completion, error


async def test_text_reply_and_usage(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("Paris.", usage=(42, 3)))
    chat = chat_for(fake_openai, temperature=0.2, max_tokens=64)
    response = await chat.complete([Message.system("Be brief."), Message.user("Capital?")])
    await chat.aclose()
    assert response.text == "Paris." and response.tool_calls == ()
    assert (response.usage.input_tokens, response.usage.output_tokens) == (42, 3)
    assert response.usage.total_tokens == 45 and response.finish_reason == "stop"
    sent = fake_openai.requests[0]
    assert sent["model"] == "fake-model" and sent["temperature"] == 0.2
    assert sent["max_tokens"] == 64 and "tools" not in sent
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital?"},
    ]
    assert fake_openai.headers[0]["authorization"] == "Bearer not-needed"


async def test_tool_calls_round_trip(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion(None, [("add", {"a": 1})]), completion("1"))
    chat = chat_for(fake_openai, api_key="sk-test")
    first = await chat.complete([Message.user("add 1")], tools=[ADD])
    assert first.tool_calls == (ToolCall("call_1", "add", '{"a": 1}'),)
    assert first.finish_reason == "tool_calls"
    conversation = [
        Message.user("add 1"),
        first.to_message(),
        Message.tool(first.tool_calls[0], "1"),
    ]
    await chat.complete(conversation, tools=[ADD])
    await chat.aclose()
    assert fake_openai.requests[0]["tools"] == [ADD.to_openai()]
    assistant, tool_message = fake_openai.requests[1]["messages"][1:]
    assert assistant["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 1}'}
    assert tool_message == {"role": "tool", "content": "1", "tool_call_id": "call_1"}
    assert fake_openai.headers[0]["authorization"] == "Bearer sk-test"


async def test_tool_choice_goes_with_the_tools(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion(None, [("add", {"a": 1})]), completion("1"))
    chat = chat_for(fake_openai)
    await chat.complete([Message.user("add 1")], tools=[ADD], tool_choice="required")
    await chat.complete([Message.user("hi")], tool_choice="required")  # no tools: not sent
    await chat.aclose()
    assert fake_openai.requests[0]["tool_choice"] == "required"
    assert "tool_choice" not in fake_openai.requests[1]


async def test_a_server_that_refuses_tool_choice_gets_the_request_without_it(
    fake_openai: FakeOpenAI,
) -> None:
    """Not every OpenAI-compatible server takes tool_choice="required": a 400 to a request
    with it is sent again without it, and later requests leave it out."""
    fake_openai.script(
        error(400, "tool_choice 'required' is not supported"), completion("1"), completion("2")
    )
    chat = chat_for(fake_openai, max_retries=0)
    first = await chat.complete([Message.user("a")], tools=[ADD], tool_choice="required")
    second = await chat.complete([Message.user("b")], tools=[ADD], tool_choice="required")
    await chat.aclose()
    assert (first.text, second.text) == ("1", "2")
    assert [("tool_choice" in r) for r in fake_openai.requests] == [True, False, False]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, '"auto" tool choice requires --enable-auto-tool-choice to be set'),  # vLLM
        (422, "Unsupported value for Tool-Choice: required"),
    ],
)
async def test_a_refusal_of_tool_choice_in_other_words_is_one_too(
    fake_openai: FakeOpenAI, status: int, message: str
) -> None:
    fake_openai.script(error(status, message), completion("1"))
    chat = chat_for(fake_openai, max_retries=0)
    await chat.complete([Message.user("a")], tools=[ADD], tool_choice="required")
    await chat.aclose()
    assert [("tool_choice" in r) for r in fake_openai.requests] == [True, False]


async def test_a_400_about_anything_else_keeps_tool_choice(fake_openai: FakeOpenAI) -> None:
    """A conversation too long for the model is no refusal of tool_choice: it fails as it is
    (not sent again without it), and later requests, other episodes' too, still carry it."""
    fake_openai.script(
        error(400, "This model's maximum context length is 8192 tokens"), completion("2")
    )
    chat = chat_for(fake_openai, max_retries=0)
    with pytest.raises(ChatError, match=r"rejected the request \(HTTP 400\): This model's"):
        await chat.complete([Message.user("long")], tools=[ADD], tool_choice="required")
    second = await chat.complete([Message.user("b")], tools=[ADD], tool_choice="required")
    await chat.aclose()
    assert second.text == "2"
    assert [r.get("tool_choice") for r in fake_openai.requests] == ["required", "required"]


async def test_structured_output_is_sent_as_a_json_schema(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion('{"x": 1}'))
    chat = chat_for(fake_openai)
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    await chat.complete([Message.user("x?")], response_format={"name": "Out", "schema": schema})
    await chat.aclose()
    assert fake_openai.requests[0]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Out", "schema": schema},
    }


async def test_429_is_retried_then_succeeds(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        error(429, "slow down", {"retry-after": "0"}),
        error(503, "overloaded"),
        completion("finally"),
    )
    chat = chat_for(fake_openai, max_retries=3)
    response = await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert response.text == "finally" and len(fake_openai.requests) == 3


@pytest.mark.parametrize(
    ("retry_after", "least", "most"),
    [("nan", 0.3, 2.0), ("-5", 0.3, 2.0), ("inf", 0.3, 2.0), ("1e9", 0.4, 2.0), ("0", 0.0, 0.25)],
)
async def test_retry_after_is_honoured_only_as_seconds_up_to_max_backoff(
    fake_openai: FakeOpenAI, retry_after: str, least: float, most: float
) -> None:
    """A Retry-After that is no number of seconds from 0 (nan, negative, inf) gets the usual
    backoff (0.4 s here, with jitter from 0.3 s); one too large waits max_backoff."""
    fake_openai.script(error(429, "slow down", {"retry-after": retry_after}), completion("ok"))
    chat = OpenAIChat(
        model="m", base_url=fake_openai.url, env={}, backoff=0.4, max_backoff=0.4, max_retries=1
    )
    started = time.monotonic()
    response = await chat.complete([Message.user("hi")])
    waited = time.monotonic() - started
    await chat.aclose()
    assert response.text == "ok" and least <= waited < most


async def test_500_after_every_retry_is_one_line_chat_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(*[error(500, "kaboom\nwith a second line")] * 3)
    chat = chat_for(fake_openai, max_retries=2)
    with pytest.raises(ChatError) as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    message = str(caught.value)
    assert "failed (HTTP 500) after 3 attempts: kaboom with a second line" in message
    assert fake_openai.url in message and "\n" not in message
    assert len(fake_openai.requests) == 3
    assert caught.value.__cause__ is not None  # translated at the boundary, `from exc`


async def test_bad_credentials_say_what_to_check(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(401, "Incorrect API key provided"))
    chat = chat_for(fake_openai, api_key="wrong")
    with pytest.raises(ChatError, match=r"refused the credentials \(HTTP 401\)") as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert "Incorrect API key provided" in str(caught.value)
    assert "check OPENAI_API_KEY" in str(caught.value)
    assert len(fake_openai.requests) == 1  # not retried


async def test_unknown_model_says_to_set_codeact_model(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(404, "model 'nope' not found"))
    chat = chat_for(fake_openai, model="nope")
    with pytest.raises(ChatError, match=r"does not serve model 'nope'.*set CODEACT_MODEL"):
        await chat.complete([Message.user("hi")])
    await chat.aclose()


async def test_unreachable_endpoint_is_a_chat_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = OpenAIChat(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", env={}, max_retries=1, backoff=0.01
    )
    with pytest.raises(ChatError, match=f"cannot reach the model endpoint .*:{port}/v1 after 2"):
        await chat.complete([Message.user("hi")])
    await chat.aclose()


async def test_the_only_model_of_a_server_is_used_when_none_is_named(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.script(completion("hi"))
    chat = OpenAIChat(base_url=fake_openai.url, env={})
    await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert fake_openai.requests[0]["model"] == "fake-model"


async def test_a_server_with_many_models_needs_a_name(fake_openai: FakeOpenAI) -> None:
    fake_openai.models = ["a", "b"]
    chat = OpenAIChat(base_url=fake_openai.url, env={})
    with pytest.raises(ModelNotConfigured, match=r"serves 2 models \(a, b\); set CODEACT_MODEL"):
        await chat.complete([Message.user("hi")])
    await chat.aclose()


async def test_azure_uses_the_deployment_path_and_api_key_header(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(completion("ok"))
    env = {
        "AZURE_OPENAI_ENDPOINT": fake_openai.root,
        "AZURE_OPENAI_API_KEY": "azure-key",
        "CODEACT_MODEL": "my-deployment",
    }
    chat = OpenAIChat(env=env)
    assert chat.endpoint.azure and chat.model == "my-deployment"
    await chat.complete([Message.user("hi")])
    await chat.aclose()
    path = fake_openai.paths[0]
    assert path.startswith("/openai/deployments/my-deployment/chat/completions")
    assert "api-version=2024-10-21" in path
    assert fake_openai.headers[0]["api-key"] == "azure-key"


@pytest.mark.parametrize("installed", [True, False])
def test_nothing_configured_says_exactly_what_to_set(
    installed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("codeact.chat.local.local_model_installed", lambda: installed)
    with pytest.raises(ModelNotConfigured) as caught:
        OpenAIChat(env={})
    message = str(caught.value)
    for setting in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"):
        assert setting in message
    if installed:  # no advice to install what is there
        assert "model='local' (--model local)" in message and "install -e" not in message
    else:  # installed from a checkout: codeact is on no package index
        assert "pip install -e '.[local]'` in the codeact checkout" in message
    assert "codeact[local]" not in message
    assert not endpoint_configured({})


async def test_streamed_reply_is_the_same_reply_and_counts_usage(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        completion("The total is 12.", usage=(40, 5)),
        completion(None, [("add", {"a": 1})], usage=(50, 9)),
    )
    chat = chat_for(fake_openai)
    pieces: list[str] = []
    chat.on_delta = pieces.append
    text = await chat.complete([Message.user("total?")])
    call = await chat.complete([Message.user("add 1")], tools=[ADD])
    await chat.aclose()
    assert text.text == "The total is 12. " and pieces[:4] == ["The ", "total ", "is ", "12. "]
    assert (text.usage.input_tokens, text.usage.output_tokens) == (40, 5)
    assert call.tool_calls == (ToolCall("call_1", "add", '{"a": 1}'),)
    assert "".join(pieces[4:]) == '{"a": 1}' and call.usage.total_tokens == 59
    assert call.finish_reason == "tool_calls"
    assert fake_openai.requests[0]["stream"] is True
    assert fake_openai.requests[0]["stream_options"] == {"include_usage": True}


def test_openai_needs_a_model_name() -> None:
    with pytest.raises(ModelNotConfigured, match="set CODEACT_MODEL"):
        resolve_endpoint(env={"OPENAI_API_KEY": "sk"})
    endpoint = resolve_endpoint(env={"OPENAI_API_KEY": "sk", "CODEACT_MODEL": "gpt-4.1"})
    assert endpoint.url == "https://api.openai.com/v1" and endpoint.model == "gpt-4.1"
    assert "sk" not in repr(endpoint)


def test_azure_without_a_key_names_the_variable() -> None:
    with pytest.raises(ModelNotConfigured, match="set AZURE_OPENAI_API_KEY"):
        resolve_endpoint(env={"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"})


def test_arguments_win_over_the_environment() -> None:
    env = {"OPENAI_BASE_URL": "http://env:1/v1", "CODEACT_MODEL": "env-model"}
    endpoint = resolve_endpoint(model="arg-model", base_url="http://arg:2/v1", env=env)
    assert (endpoint.url, endpoint.model) == ("http://arg:2/v1", "arg-model")
    assert endpoint_configured(env)


@pytest.mark.parametrize("url", ["notaurl", "localhost:11434", "ftp://host/v1", "http://"])
def test_an_endpoint_url_without_scheme_or_host_fails_at_once(url: str) -> None:
    # was: accepted, then "cannot reach the model endpoint ... after 4 attempts" at the first turn
    with pytest.raises(ModelNotConfigured, match=r"is not an endpoint URL; give one with http://"):
        OpenAIChat(base_url=url, model="m")
    with pytest.raises(ModelNotConfigured, match=r"^OPENAI_BASE_URL "):
        resolve_endpoint(env={"OPENAI_BASE_URL": url})


def test_the_demo_names_a_bad_base_url_in_one_line() -> None:
    from ..cli_run import run_codeact

    proc = run_codeact("demo", "--base-url", "localhost:11434", "--model", "m", "--quiet")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "codeact: error: base_url= (--base-url) 'localhost:11434' is not an endpoint URL; give "
        "one with http:// or https:// and a host, e.g. http://127.0.0.1:11434/v1\n"
    )


async def test_lone_surrogates_in_the_conversation_are_sent_escaped(
    fake_openai: FakeOpenAI,
) -> None:
    """A program's output or value, a tool's result or the model's own earlier reply may hold
    lone surrogates, which the client's UTF-8 request body cannot: the turn is sent with them
    escaped instead of failing with a UnicodeEncodeError."""
    fake_openai.script(completion("ok"))
    chat = chat_for(fake_openai)
    call = ToolCall("call_1", "add", '{"a": "\ud800"}')
    conversation = [
        Message.user("value: \ud800"),
        Message.assistant("thinking \udfff", (call,)),
        Message.tool(call, "result \udc80"),
    ]
    response = await chat.complete(conversation, tools=[ADD])
    await chat.aclose()
    assert response.text == "ok"
    user, assistant, tool = fake_openai.requests[0]["messages"]
    assert user["content"] == "value: \\ud800"
    assert assistant["content"] == "thinking \\udfff"
    assert assistant["tool_calls"][0]["function"]["arguments"] == '{"a": "\\ud800"}'
    assert tool["content"] == "result \\udc80"
