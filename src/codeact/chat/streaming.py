"""Streamed replies for `OpenAIChat`: the same `ChatResponse`, with each piece of text (or of a
tool call's arguments) handed to a callback as the model writes it.

Used when a caller wants to show progress (the demo's live token count). Usage still counts:
the request asks for it in the last chunk (``stream_options.include_usage``); a server that
does not send it gets its output counted as one token per streamed piece.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable
from typing import Any

from .replies import BadReply, ReplyTooLarge, field_of, plain, snippet, text_of, unparsed

__all__ = ["OnDelta", "read_stream", "stream_request"]

#: Called with each new piece of the reply (text or tool-call arguments), on the loop.
OnDelta = Callable[[str], None]


def stream_request(request: dict[str, Any]) -> dict[str, Any]:
    """`request` asking for a stream that ends with the usage."""
    return {**request, "stream": True, "stream_options": {"include_usage": True}}


async def read_stream(
    stream: AsyncIterable[Any], on_delta: OnDelta, max_bytes: int | None = None
) -> dict[str, Any]:
    """Read a chat-completions stream into the JSON of a non-streamed reply.

    The text and tool calls gathered may hold `max_bytes` (None: no bound); past it, a
    `ReplyTooLarge`. An event nested too deep for the JSON decoder is a `BadReply`.

    Only choice 0 is read, as in a reply that is not streamed. A stream is whole when that
    choice has said why it finished (``finish_reason``): one that
    ends before (a connection cut, a server that stopped, a body that is no event stream),
    has an event that is not JSON, or an error event, is a `BadReply`.
    """
    import openai  # loaded by the client that made `stream` already

    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    usage: Any = None
    finish: str | None = None
    model: str | None = None
    pieces = size = 0
    chunks = aiter(stream)
    while True:
        try:
            chunk = plain(await anext(chunks))
        except StopAsyncIteration:
            break
        except RecursionError as exc:
            raise BadReply("sent a reply nested too deep to read") from exc
        except ValueError as exc:  # json.JSONDecodeError
            raise BadReply("sent an event that is not JSON", snippet(unparsed(exc))) from exc
        except openai.APITimeoutError:
            raise
        except openai.APIConnectionError as exc:
            raise BadReply("broke off its streamed reply", _cause(exc)) from exc
        except openai.APIStatusError:
            raise
        except openai.APIError as exc:  # an error event in the stream
            raise BadReply(
                "sent an error in the middle of its reply", snippet(exc.message)
            ) from exc
        name = field_of(chunk, "model")
        model = name if isinstance(name, str) and name else model
        if isinstance(field_of(chunk, "usage"), dict):
            usage = chunk["usage"]
        for choice in _first_choice(field_of(chunk, "choices")):
            delta = field_of(choice, "delta")
            content = text_of(field_of(delta, "content"))
            if content:
                size += len(content)
                text.append(content)
                pieces += 1
                on_delta(content)
            parts = field_of(delta, "tool_calls")
            for part in parts if isinstance(parts, list) else ():
                if isinstance(part, dict):
                    size += 16 + len(str(field_of(field_of(part, "function"), "name") or ""))
                    piece = _add_call_part(calls, part)
                    size += len(piece)
                    if piece:
                        pieces += 1
                        on_delta(piece)
            reason = field_of(choice, "finish_reason")
            finish = reason if isinstance(reason, str) and reason else finish
        if max_bytes is not None and size > max_bytes:
            raise ReplyTooLarge(max_bytes)
    if finish is None:
        response = getattr(stream, "response", None)
        kind = response.headers.get("content-type", "") if response is not None else ""
        if kind and not kind.startswith("text/event-stream"):
            raise BadReply(
                f"answered a streamed request with {kind.split(';')[0]}, not an event stream"
            )
        got = f"{len(''.join(text))} characters of text and {len(calls)} tool calls came"
        raise BadReply("ended its streamed reply before the reply did (no finish_reason)", got)
    if usage is None:
        usage = {"prompt_tokens": 0, "completion_tokens": pieces, "total_tokens": pieces}
    tool_calls = [
        {"id": slot["id"], "function": {"name": slot["name"], "arguments": slot["arguments"]}}
        for _, slot in sorted(calls.items())
    ]
    message = {"content": "".join(text) if text else None, "tool_calls": tool_calls}
    return {
        "choices": [{"message": message, "finish_reason": finish}],
        "usage": usage,
        "model": model,
    }


def _first_choice(choices: Any) -> list[Any]:
    """The pieces of a chunk's choices that belong to the reply, choice 0 (as a reply that is
    not streamed is read): those of ``index`` 0, or, without an index, the chunk's first. A
    request for several choices (``n``) does not get their text run together."""
    if not isinstance(choices, list):
        return []
    return [c for position, c in enumerate(choices) if _index(c, position) == 0]


def _index(choice: Any, position: int) -> int:
    index = field_of(choice, "index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def _add_call_part(calls: dict[int, dict[str, Any]], part: dict[str, Any]) -> str:
    """Add one streamed piece of a tool call to `calls`; the piece of its arguments ("" for
    none). A part without an ``index`` (a server that sends each call whole) continues the
    last call, or starts one when it has an id."""
    index = part.get("index")
    if not isinstance(index, int) or isinstance(index, bool):
        index = max(calls) if calls and not part.get("id") else len(calls)
    slot = calls.setdefault(index, {"id": None, "name": "", "arguments": ""})
    if isinstance(part.get("id"), (str, int)) and part["id"] != "":
        slot["id"] = part["id"]
    function = part.get("function")
    name = field_of(function, "name")
    if isinstance(name, str):
        slot["name"] += name
    arguments = field_of(function, "arguments")
    if arguments is None or arguments == "":
        return ""
    piece = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    slot["arguments"] += piece
    return piece


def _cause(exc: BaseException) -> str:
    return " ".join(str(exc.__cause__ or exc).split())[:300]
