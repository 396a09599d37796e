"""One `OpenAIChat` used from one event loop after another, against a real HTTP server on
127.0.0.1: ``asyncio.run(agent.run(...))`` per episode (the docs' example, in a loop),
`run_sync`'s loop thread and ``asyncio.run`` in turn, loops of several threads at once. Each
loop gets its own connections, closed when that loop ends."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import pytest

from codeact import Agent
from codeact.chat import Message, OpenAIChat

from .local_http import QuietHandler, local_server, serving


class KeepAlive:
    """A server that keeps each connection open for more requests (HTTP/1.1), and counts the
    connections open now and the requests answered."""

    def __init__(self) -> None:
        self.open = self.requests = 0
        outer = self
        lock = threading.Lock()
        reply = json.dumps(
            {"choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "hi"}}]}
        ).encode()

        class Handler(QuietHandler):
            def setup(self) -> None:
                super().setup()
                with lock:
                    outer.open += 1

            def finish(self) -> None:
                with lock:
                    outer.open -= 1
                super().finish()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    outer.requests += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.httpd, self.url = local_server(Handler)

    def wait_closed(self, seconds: float = 5.0) -> int:
        """The connections still open once all have closed, or after `seconds`."""
        deadline = time.monotonic() + seconds
        while self.open and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open


@pytest.fixture
def keep_alive() -> Iterator[KeepAlive]:
    server = KeepAlive()
    with serving(server.httpd):
        yield server


def test_asyncio_run_after_asyncio_run_works_and_closes_each_loops_connections(
    keep_alive: KeepAlive,
) -> None:
    chat = OpenAIChat(model="m", base_url=keep_alive.url, env={}, max_retries=0)
    agent = Agent(client=chat)
    for _ in range(3):
        assert asyncio.run(agent.run("hi")).text == "hi"
        # The loop's connection (kept alive for its next request) closed with the loop.
        assert keep_alive.wait_closed() == 0
    assert keep_alive.requests == 3


def test_run_sync_and_asyncio_run_take_turns(keep_alive: KeepAlive) -> None:
    chat = OpenAIChat(model="m", base_url=keep_alive.url, env={}, max_retries=0)
    agent = Agent(client=chat)
    try:
        answers = [
            agent.run_sync("1").text,
            asyncio.run(agent.run("2")).text,
            agent.run_sync("3").text,
            asyncio.run(agent.run("4")).text,
        ]
    finally:
        agent.close()
    assert answers == ["hi"] * 4 and keep_alive.requests == 4
    assert keep_alive.wait_closed() == 0  # run_sync's loop thread ended with agent.close()


def test_loops_of_several_threads_share_one_client_at_once(keep_alive: KeepAlive) -> None:
    chat = OpenAIChat(model="m", base_url=keep_alive.url, env={}, max_retries=0)
    texts: list[str | None] = []

    async def two_replies() -> None:
        for _ in range(2):
            texts.append((await chat.complete([Message.user("hi")])).text)

    threads = [threading.Thread(target=asyncio.run, args=(two_replies(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert texts == ["hi"] * 8
    assert keep_alive.wait_closed() == 0


async def test_aclose_closes_this_loops_connections_and_the_client_still_serves(
    keep_alive: KeepAlive,
) -> None:
    chat = OpenAIChat(model="m", base_url=keep_alive.url, env={}, max_retries=0)
    await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert await asyncio.to_thread(keep_alive.wait_closed) == 0
    assert (await chat.complete([Message.user("again")])).text == "hi"
    await chat.aclose()
