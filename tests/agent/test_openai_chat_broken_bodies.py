"""`OpenAIChat` against a real HTTP server on 127.0.0.1 whose reply breaks while it comes: the
connection dropped mid-body, a chunked body with a bad chunk, a gzip body that is not gzip;
plain and streamed. Each is asked for again (as after a 5xx), and in the end is one
`ChatError`: never an exception of the HTTP client out of the chat client or the agent."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from codeact import Agent, ChatError
from codeact.chat import Message, OpenAIChat

from .conftest import completion, stream_chunks
from .local_http import QuietHandler, local_server, serving

_BODY = json.dumps(completion("fine").body).encode()
_EVENTS = b"".join(
    f"data: {json.dumps(c)}\n\n".encode() for c in stream_chunks(completion("fine").body)
)
_EVENTS += b"data: [DONE]\n\n"

Send = Callable[[BaseHTTPRequestHandler, bool], None]


def _head(handler: BaseHTTPRequestHandler, streamed: bool, *headers: tuple[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/event-stream" if streamed else "application/json")
    for key, value in headers:
        handler.send_header(key, value)
    handler.end_headers()


def _whole(handler: BaseHTTPRequestHandler, streamed: bool) -> None:
    data = _EVENTS if streamed else _BODY
    _head(handler, streamed, ("content-length", str(len(data))))
    handler.wfile.write(data)


def _cut(handler: BaseHTTPRequestHandler, streamed: bool) -> None:
    """The connection drops after part of the body (its length said more would come)."""
    data = _EVENTS if streamed else _BODY
    _head(handler, streamed, ("content-length", str(len(data))))
    handler.wfile.write(data[: len(data) // 3])
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def _bad_chunk(handler: BaseHTTPRequestHandler, streamed: bool) -> None:
    _head(handler, streamed, ("transfer-encoding", "chunked"))
    handler.wfile.write(b"zz\r\nabc\r\n")
    handler.close_connection = True


def _bad_gzip(handler: BaseHTTPRequestHandler, streamed: bool) -> None:
    data = _EVENTS if streamed else _BODY
    _head(handler, streamed, ("content-encoding", "gzip"), ("content-length", str(len(data))))
    handler.wfile.write(data)  # not gzip


BREAKS: dict[str, Send] = {"cut": _cut, "bad_chunk": _bad_chunk, "bad_gzip": _bad_gzip}


class Breaking:
    """Answers request n with ``script[n]`` (the last one from then on)."""

    def __init__(self) -> None:
        self.script: list[Send] = [_whole]
        self.requests = 0
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                outer.requests += 1
                send = outer.script[min(outer.requests, len(outer.script)) - 1]
                try:
                    send(self, bool(body.get("stream")))
                except OSError:
                    pass

        self.httpd, self.url = local_server(Handler)


@pytest.fixture
def breaking() -> Iterator[Breaking]:
    server = Breaking()
    with serving(server.httpd):
        yield server


def _chat(server: Breaking, streamed: bool, **kwargs: Any) -> OpenAIChat:
    chat = OpenAIChat(model="m", base_url=server.url, env={}, backoff=0.01, **kwargs)
    if streamed:
        chat.on_delta = lambda piece: None
    return chat


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("broken", list(BREAKS))
async def test_a_reply_broken_once_is_asked_for_again(
    breaking: Breaking, broken: str, streamed: bool
) -> None:
    breaking.script = [BREAKS[broken], _whole]
    chat = _chat(breaking, streamed, max_retries=2)
    result = await Agent(client=chat).run("hi")
    await chat.aclose()
    assert result.text == "fine" and breaking.requests == 2


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("broken", list(BREAKS))
async def test_a_reply_broken_every_time_is_one_chat_error(
    breaking: Breaking, broken: str, streamed: bool
) -> None:
    breaking.script = [BREAKS[broken]]
    chat = _chat(breaking, streamed, max_retries=1)
    with pytest.raises(ChatError, match=r"after 2 attempts") as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert breaking.url in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.__cause__ is not None and breaking.requests == 2
