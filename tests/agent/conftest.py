"""A real chat-completions HTTP server on 127.0.0.1, whose replies the test decides.

`fake_openai` serves ``POST /v1/chat/completions`` (and Azure's deployment path) and
``GET /v1/models`` from a stdlib HTTP server in a thread. Each request's JSON is recorded and
passed to the test's `policy`, which returns the reply (or an error status).
`order_totals_model` is a policy that solves the order-totals task the way a capable model
would, through either wiring, so the CLI's demo and bench can run end to end without a model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from codeact.chat import OpenAIChat, ToolDefinition
from codeact.workloads import order_totals

Policy = Callable[[dict[str, Any]], "Reply"]


@dataclass
class Reply:
    """What the fake server sends: a status, a JSON body and headers; or `raw` bytes (to any
    request, streamed or not); or, to a streamed request, the `events` as they are."""

    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"
    #: ``data:`` lines of a stream, sent as given and nothing after them (no ``[DONE]``).
    events: list[str] | None = None


def raw(data: bytes, content_type: str = "application/json") -> Reply:
    """A 200 reply of `data` as it is: a body that is not a chat completion."""
    return Reply({}, raw=data, content_type=content_type)


def events(*data: dict[str, Any] | str) -> Reply:
    """A stream of these events (dicts as JSON, strings as they are), then the end of the
    body: whatever a stream needs to be whole (a finish, ``[DONE]``) must be among them."""
    return Reply({}, events=[d if isinstance(d, str) else json.dumps(d) for d in data])


def stream_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """One streamed chunk of a reply."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def completion(
    content: str | None = None,
    tool_calls: list[tuple[str, dict[str, Any]]] | None = None,
    *,
    usage: tuple[int, int] = (100, 20),
) -> Reply:
    calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for i, (name, args) in enumerate(tool_calls or [], 1)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return Reply(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "fake-model",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": usage[0] + usage[1],
            },
        }
    )


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        {"error": {"message": message, "type": "test_error", "code": status}},
        status,
        headers or {},
    )


def stream_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A completion's body cut into the chunks a streaming server sends: the text word by
    word, each tool call's arguments in two pieces, then the finish and the usage."""
    choice = body["choices"][0]
    message = choice["message"]
    base = {"id": body.get("id", "chatcmpl-1"), "object": "chat.completion.chunk"}
    base |= {"created": 0, "model": body.get("model", "fake-model")}
    chunks: list[dict[str, Any]] = []

    def delta(d: dict[str, Any], finish: str | None = None) -> None:
        chunks.append({**base, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]})

    delta({"role": "assistant"})
    for word in (message.get("content") or "").split(" "):
        if word:
            delta({"content": word + " "})
    for n, call in enumerate(message.get("tool_calls") or []):
        args = call["function"]["arguments"]
        head = {"index": n, "id": call["id"], "type": "function"}
        delta({"tool_calls": [{**head, "function": {"name": call["function"]["name"]}}]})
        for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
            delta({"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
    delta({}, choice.get("finish_reason") or "stop")
    if body.get("usage"):
        chunks.append({**base, "choices": [], "usage": body["usage"]})
    return chunks


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.policy: Policy = lambda body: completion("hello")
        self.models = ["fake-model"]
        server = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        Reply({"object": "list", "data": [{"id": m} for m in server.models]})
                    )
                else:
                    self._send(error(404, f"no route {self.path}"))

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    server.requests.append(body)
                    server.paths.append(self.path)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                if "/chat/completions" not in self.path:
                    self._send(error(404, f"no route {self.path}"))
                    return
                reply = server.policy(body)
                if body.get("stream") and reply.status == 200 and reply.raw is None:
                    self._stream(reply)
                else:
                    self._send(reply)

            def _stream(self, reply: Reply) -> None:
                """The reply as server-sent events, as a streaming server sends it."""
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                if reply.events is not None:  # as given; the connection closes after them
                    for data in reply.events:
                        self.wfile.write(f"data: {data}\n\n".encode())
                    return
                for chunk in stream_chunks(reply.body):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _send(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode() if reply.raw is None else reply.raw
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.root + "/v1"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with `replies`, in order."""
        queue = list(replies)

        def policy(body: dict[str, Any]) -> Reply:
            if not queue:
                return error(500, "the test's script has no reply left")
            return queue.pop(0)

        self.policy = policy


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


#: A tool definition for `OpenAIChat`'s tests (tests/agent/test_openai_chat*.py).
ADD = ToolDefinition(
    "add",
    "Add two numbers.",
    {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
)


def chat_for(server: FakeOpenAI, **kwargs: Any) -> OpenAIChat:
    """An `OpenAIChat` of `server` (model "fake-model" unless given), retrying fast."""
    kwargs.setdefault("model", "fake-model")
    return OpenAIChat(base_url=server.url, env={}, backoff=0.01, **kwargs)


def _tool_results(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], Any]]:
    """(tool name, arguments, result) of every answered call in an OpenAI conversation."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    out = []
    for m in messages:
        for c in m.get("tool_calls") or []:
            calls[c["id"]] = (c["function"]["name"], json.loads(c["function"]["arguments"]))
        if m["role"] == "tool":
            name, args = calls[m["tool_call_id"]]
            try:
                result = json.loads(m["content"])
            except ValueError:
                result = m["content"]
            out.append((name, args, result))
    return out


def order_totals_policy(body: dict[str, Any]) -> Reply:
    """A competent model for the order-totals task, for either wiring."""
    tools = [t["function"]["name"] for t in body.get("tools") or []]
    messages = body["messages"]
    results = _tool_results(messages)
    if "execute_code" in tools:
        if not results:
            return completion(None, [("execute_code", {"code": order_totals.PROGRAM})])
        return completion("Here are the totals:\n" + str(results[-1][2]), usage=(900, 120))
    by_name: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    for name, args, result in results:
        by_name.setdefault(name, []).append((args, result))
    if "list_users" not in by_name:
        return completion(None, [("list_users", {})])
    users = by_name["list_users"][0][1]
    if "get_orders_for_user" not in by_name:
        calls: list[tuple[str, dict[str, Any]]] = []
        for tier in sorted({u["tier"] for u in users}):
            calls.append(("get_discount_rate", {"tier": tier}))
        for region in sorted({u["region"] for u in users}):
            calls.append(("get_tax_rate", {"region": region}))
        calls += [("get_orders_for_user", {"user_id": u["id"]}) for u in users]
        return completion(None, calls)
    discount = {a["tier"]: r for a, r in by_name["get_discount_rate"]}
    tax = {a["region"]: r for a, r in by_name["get_tax_rate"]}
    orders = {a["user_id"]: r for a, r in by_name["get_orders_for_user"]}
    lines = [(u, line) for u in users for line in orders[u["id"]]]
    if "compute_line_total" not in by_name:
        return completion(
            None,
            [
                (
                    "compute_line_total",
                    {
                        "qty": line["qty"],
                        "unit_price": line["unit_price"],
                        "discount_rate": discount[u["tier"]],
                        "tax_rate": tax[u["region"]],
                    },
                )
                for u, line in lines
            ],
        )
    totals_in_order = [r for _, r in by_name["compute_line_total"]]
    per_user: dict[str, float] = {}
    for (u, _), total in zip(lines, totals_in_order, strict=True):
        per_user[u["name"]] = per_user.get(u["name"], 0.0) + total
    rows = sorted(per_user.items(), key=lambda kv: -kv[1])
    text = "\n".join(f"{name}: {value:.2f}" for name, value in rows)
    text += f"\nSum of all grand totals: {sum(per_user.values()):.2f}"
    return completion(text, usage=(1500, 150))


@pytest.fixture
def order_totals_model(fake_openai: FakeOpenAI) -> FakeOpenAI:
    fake_openai.policy = order_totals_policy
    return fake_openai
