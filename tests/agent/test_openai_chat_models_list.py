"""`OpenAIChat` without a model name, against a real HTTP server on 127.0.0.1: it asks
``GET /models`` for the server's only model, within `timeout` and retried as a chat request
is (a 503 while the model loads, a reply that is not JSON), and names that model from the
first run on."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from codeact import Agent, ChatError, CodeAct
from codeact.chat import OpenAIChat

from .local_http import QuietHandler, local_server, serving

_MODELS = json.dumps({"object": "list", "data": [{"id": "only-model", "object": "model"}]})
_REPLY = json.dumps(
    {
        "model": "only-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "hi"}}],
    }
)

#: How ``GET /models`` is answered: (handler, its number from 1).
Answer = Callable[[BaseHTTPRequestHandler, int], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: str, **headers: str) -> None:
    data = body.encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    for key, value in headers.items():
        handler.send_header(key.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(data)


class ModelServer:
    """Answers ``GET /models`` with `models` and every chat request with one reply."""

    def __init__(self) -> None:
        self.models: Answer = lambda handler, n: send(handler, 200, _MODELS)
        self.gets = self.posts = 0
        self.chat_models: list[str] = []
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                outer.gets += 1
                try:
                    outer.models(self, outer.gets)
                except OSError:
                    pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                outer.posts += 1
                outer.chat_models.append(body.get("model"))
                send(self, 200, _REPLY)

        self.httpd, self.url = local_server(Handler)


@pytest.fixture
def server() -> Iterator[ModelServer]:
    server = ModelServer()
    with serving(server.httpd):
        yield server


def chat_of(server: ModelServer, **kwargs: Any) -> OpenAIChat:
    return OpenAIChat(base_url=server.url, env={}, backoff=0.01, **kwargs)


def trickle(handler: BaseHTTPRequestHandler, n: int) -> None:
    """The list of models, one byte every 0.1 s (a stuck proxy)."""
    data = (_MODELS + " " * 200).encode()
    handler.send_response(200)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    for i in range(len(data)):
        handler.wfile.write(data[i : i + 1])
        handler.wfile.flush()
        time.sleep(0.1)


async def test_a_trickled_list_of_models_is_cut_off_at_timeout(server: ModelServer) -> None:
    server.models = trickle
    chat = chat_of(server, timeout=1, max_retries=0)
    started = time.monotonic()
    with pytest.raises(ChatError, match="did not answer in time"):
        # Unbounded, the list would take 25 s: a TimeoutError here, not the ChatError.
        await asyncio.wait_for(Agent(client=chat).run("hi"), 10)
    await chat.aclose()
    assert time.monotonic() - started < 5 and server.posts == 0


def loading_once(handler: BaseHTTPRequestHandler, n: int) -> None:
    if n == 1:
        send(handler, 503, json.dumps({"error": {"message": "model is loading"}}), retry_after="0")
    else:
        send(handler, 200, _MODELS)


def not_json_once(handler: BaseHTTPRequestHandler, n: int) -> None:
    send(handler, 200, "<html>proxy error</html>" if n == 1 else _MODELS)


@pytest.mark.parametrize("answer", [loading_once, not_json_once], ids=["503", "not_json"])
async def test_a_list_of_models_that_failed_once_is_asked_for_again(
    server: ModelServer, answer: Answer
) -> None:
    server.models = answer
    chat = chat_of(server, max_retries=2)
    result = await Agent(client=chat).run("hi")
    await chat.aclose()
    assert result.text == "hi" and server.gets == 2 and server.chat_models == ["only-model"]


async def test_a_list_of_models_that_fails_every_time_is_one_chat_error(
    server: ModelServer,
) -> None:
    server.models = lambda handler, n: send(handler, 503, json.dumps({"error": "loading"}))
    chat = chat_of(server, max_retries=1)
    with pytest.raises(ChatError, match=r"failed \(HTTP 503\) after 2 attempts"):
        await Agent(client=chat).run("hi")
    await chat.aclose()
    assert server.gets == 2 and server.posts == 0


async def test_the_first_run_names_the_servers_model(server: ModelServer) -> None:
    """Not a placeholder in the first run's result and spans, and the name in later ones."""
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    exporter = memory.InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    chat = chat_of(server)
    agent = Agent(client=chat, codeact=CodeAct(tracer_provider=provider))
    runs = []
    for _ in range(2):
        result = await agent.run("hi")
        spans = {
            s.name: s.attributes["gen_ai.request.model"] for s in exporter.get_finished_spans()
        }
        exporter.clear()
        runs.append((result.model, spans))
    await chat.aclose()
    provider.shutdown()
    named = ("only-model", {"chat only-model": "only-model", "invoke_agent codeact": "only-model"})
    assert runs == [named, named] and server.gets == 1


@pytest.mark.parametrize(
    "body",
    ['[{"id": "only-model"}]', '{"data": {"id": "only-model"}}', '"only-model"', "{}"],
    ids=["array", "data_not_a_list", "string", "no_data"],
)
async def test_a_reply_that_is_not_a_list_of_models_is_one_chat_error(
    server: ModelServer, body: str
) -> None:
    """JSON, but not ``{"data": [...]}``: one line saying so and to name the model (before,
    a JSON array escaped as a bare AttributeError from the SDK's parse)."""
    server.models = lambda handler, n: send(handler, 200, body)
    chat = chat_of(server, max_retries=1)
    with pytest.raises(ChatError) as caught:
        await Agent(client=chat).run("hi")
    await chat.aclose()
    message = str(caught.value)
    assert message.startswith("no model name given, and the model endpoint http://127.0.0.1:")
    assert 'sent a list of models that is not one (a JSON object with a "data" list)' in message
    assert message.endswith("; set CODEACT_MODEL or pass --model / model=")
    assert "\n" not in message and server.gets == 2 and server.posts == 0


async def test_a_server_without_a_list_of_models_says_to_name_the_model(
    server: ModelServer,
) -> None:
    """A 404 for ``GET /models`` is not a model the server does not serve (before: "does not
    serve model None")."""
    not_found = json.dumps({"error": {"message": "Not Found"}})
    server.models = lambda handler, n: send(handler, 404, not_found)
    chat = chat_of(server, max_retries=1)
    with pytest.raises(ChatError) as caught:
        await Agent(client=chat).run("hi")
    await chat.aclose()
    message = str(caught.value)
    assert "None" not in message and "\n" not in message
    assert "has no list of models to take its name from (GET /models: HTTP 404: Not Found)" in (
        message
    )
    assert message.endswith("; set CODEACT_MODEL or pass --model / model=")
    assert server.gets == 1 and server.posts == 0
