"""`OpenAIChat` against a server that never finishes, sends too much or sends values no reply
holds, from a real HTTP server on 127.0.0.1: `timeout` bounds a whole request (a reply
trickled a byte at a time, a stream that never finishes, a body that never ends),
`max_reply_bytes` a reply's size, and a reply nested too deep or with absurd token counts is
read as a bad reply or an unknown count, never an exception out of the client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from codeact import ChatError
from codeact.chat import Message, OpenAIChat
from codeact.chat.replies import count_of

from .conftest import FakeOpenAI, chat_for, events, raw, stream_chunk
from .local_http import QuietHandler, local_server, serving

_REPLY = {
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "hi"}}],
}


class Endless:
    """A server that answers every request with `mode`: ``trickle`` (a whole reply, one byte
    every 0.2 s), ``stream`` (events that never finish), ``body`` (JSON that never ends)."""

    def __init__(self, mode: str) -> None:
        self.requests = 0
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.requests += 1
                try:
                    if mode == "trickle":
                        data = json.dumps(_REPLY).encode()
                        self.send_response(200)
                        self.send_header("content-type", "application/json")
                        self.send_header("content-length", str(len(data)))
                        self.end_headers()
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            self.wfile.flush()
                            time.sleep(0.2)
                    elif mode == "stream":
                        self.send_response(200)
                        self.send_header("content-type", "text/event-stream")
                        self.end_headers()
                        event = json.dumps(stream_chunk({"content": "x" * 4000}))
                        while True:
                            self.wfile.write(f"data: {event}\n\n".encode())
                            self.wfile.flush()
                            time.sleep(0.001)
                    else:
                        self.send_response(200)
                        self.send_header("content-type", "application/json")
                        self.end_headers()
                        self.wfile.write(b'{"choices":[{"message":{"content":"')
                        while True:
                            self.wfile.write(b"x" * 65536)
                            self.wfile.flush()
                            time.sleep(0.01)
                except OSError:
                    pass

        self.httpd, self.url = local_server(Handler)


@pytest.fixture
def endless(request: pytest.FixtureRequest) -> Iterator[Endless]:
    server = Endless(request.param)
    with serving(server.httpd):
        yield server


@pytest.mark.parametrize(
    ("endless", "streamed"),
    [("trickle", False), ("stream", True), ("body", False)],
    indirect=["endless"],
)
async def test_timeout_bounds_the_whole_request(endless: Endless, streamed: bool) -> None:
    """A reply that keeps coming (a byte at a time, a stream with no finish, a body with no
    end) is cut at `timeout`, each attempt, and reported as one ChatError line."""
    chat = OpenAIChat(
        model="m", base_url=endless.url, env={}, timeout=1.0, max_retries=1, backoff=0.01
    )
    if streamed:
        chat.on_delta = lambda piece: None
    start = time.monotonic()
    with pytest.raises(ChatError) as caught:
        await chat.complete([Message.user("hi")])
    elapsed = time.monotonic() - start
    await chat.aclose()
    message = str(caught.value)
    assert elapsed < 6, elapsed
    assert endless.requests == 2
    assert "\n" not in message
    assert "did not answer in time after 2 attempts" in message


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_reply_larger_than_the_bound_is_one_chat_error(
    fake_openai: FakeOpenAI, streamed: bool
) -> None:
    if streamed:
        chunks = [stream_chunk({"content": "y" * 1000})] * 5
        fake_openai.script(events(*chunks, stream_chunk({}, "stop"), "[DONE]"))
    else:
        fake_openai.script(raw(json.dumps(_REPLY | {"x": "y" * 5000}).encode()))
    chat = chat_for(fake_openai, max_retries=2, max_reply_bytes=4096)
    if streamed:
        chat.on_delta = lambda piece: None
    with pytest.raises(ChatError) as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    message = str(caught.value)
    assert "larger than 4096 bytes" in message and "\n" not in message
    assert len(fake_openai.requests) == 1  # not asked for again: it would be as large


async def test_a_reply_within_the_bound_is_read(fake_openai: FakeOpenAI) -> None:
    chat = chat_for(fake_openai, max_reply_bytes=4096)
    assert (await chat.complete([Message.user("hi")])).text == "hello"
    chat.on_delta = lambda piece: None
    assert (await chat.complete([Message.user("hi")])).text == "hello "
    await chat.aclose()


def test_max_reply_bytes_must_be_positive() -> None:
    from codeact.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        OpenAIChat(model="m", base_url="http://127.0.0.1:9/v1", env={}, max_reply_bytes=0)


_DEEP = "[" * 2000 + "]" * 2000


@pytest.mark.parametrize("where", ["arguments", "content"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_reply_nested_too_deep_is_a_bad_reply(
    fake_openai: FakeOpenAI, streamed: bool, where: str
) -> None:
    """A reply nested thousands of levels deep is asked for again, then one ChatError (not a
    RecursionError from the JSON decoder)."""
    if where == "arguments":
        call = '{"id":"c1","type":"function","function":{"name":"f","arguments":' + _DEEP + "}}"
        message = '{"content":null,"tool_calls":[' + call + "]}"
        delta = '{"tool_calls":[' + call.replace('"id"', '"index":0,"id"', 1) + "]}"
    else:
        message = '{"content":' + _DEEP + "}"
        delta = message
    if streamed:
        event = '{"choices":[{"index":0,"delta":' + delta + ',"finish_reason":"stop"}]}'
        reply = events(event, "[DONE]")
    else:
        reply = raw(('{"choices":[{"finish_reason":"stop","message":' + message + "}]}").encode())
    fake_openai.script(reply, reply)
    chat = chat_for(fake_openai, max_retries=1)
    if streamed:
        chat.on_delta = lambda piece: None
    with pytest.raises(ChatError) as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert "nested too deep" in str(caught.value) and len(fake_openai.requests) == 2


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (12, 12),
        ("34", 34),
        (2**53 - 1, 2**53 - 1),
        (2**53, 0),
        (10**400, 0),
        ("9" * 5000, 0),
        ("9" * 17, 0),
        (1e300, 0),
        (-3, 0),
        (float("inf"), 0),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_a_token_count_out_of_bounds_is_unknown(value: Any, count: int) -> None:
    assert count_of(value) == count


async def test_a_reply_with_a_count_of_5000_digits_is_read(fake_openai: FakeOpenAI) -> None:
    usage = {"prompt_tokens": "9" * 5000, "completion_tokens": 10**400, "total_tokens": 3}
    fake_openai.script(raw(json.dumps(_REPLY | {"usage": usage}).encode()))
    chat = chat_for(fake_openai)
    response = await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert response.text == "hi"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (0, 0)
