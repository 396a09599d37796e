"""Streamed replies for `OpenAIChat`: the same `ChatResponse`, with each piece of text (or of a
tool call's arguments) handed to a callback as the model writes it.

Used when a caller wants to show progress (the demo's live token count). Usage still counts:
the request asks for it in the last chunk (``stream_options.include_usage``); a server that
does not send it gets its output counted as one token per streamed piece.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from types import SimpleNamespace
from typing import Any

__all__ = ["OnDelta", "read_stream", "stream_request"]

#: Called with each new piece of the reply (text or tool-call arguments), on the loop.
OnDelta = Callable[[str], None]


def stream_request(request: dict[str, Any]) -> dict[str, Any]:
    """`request` asking for a stream that ends with the usage."""
    return {**request, "stream": True, "stream_options": {"include_usage": True}}


async def read_stream(stream: AsyncIterable[Any], on_delta: OnDelta) -> Any:
    """Read a chat-completions stream into the shape of a non-streamed reply."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage: Any = None
    finish: str | None = None
    model: str | None = None
    pieces = 0
    async for chunk in stream:
        model = getattr(chunk, "model", None) or model
        if getattr(chunk, "usage", None) is not None:
            usage = chunk.usage
        for choice in getattr(chunk, "choices", None) or ():
            delta = choice.delta
            if delta is not None and delta.content:
                text.append(delta.content)
                pieces += 1
                on_delta(delta.content)
            for part in (delta.tool_calls if delta is not None else None) or ():
                slot = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = part.id or slot["id"]
                function = part.function
                if function is not None and function.name:
                    slot["name"] += function.name
                if function is not None and function.arguments:
                    slot["arguments"] += function.arguments
                    pieces += 1
                    on_delta(function.arguments)
            finish = choice.finish_reason or finish
    if usage is None:
        usage = SimpleNamespace(prompt_tokens=0, completion_tokens=pieces, total_tokens=pieces)
    tool_calls = [
        SimpleNamespace(
            id=slot["id"] or None,
            function=SimpleNamespace(name=slot["name"], arguments=slot["arguments"]),
        )
        for _, slot in sorted(calls.items())
    ]
    message = SimpleNamespace(content="".join(text) if text else None, tool_calls=tool_calls)
    choice = SimpleNamespace(message=message, finish_reason=finish)
    return SimpleNamespace(choices=[choice], usage=usage, model=model)
