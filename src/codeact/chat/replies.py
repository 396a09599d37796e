"""What an OpenAI-compatible server sent, read without trusting its shape.

The servers `OpenAIChat` talks to are many (OpenAI, Azure, Ollama, vLLM, llama.cpp, proxies in
front of them), and the ``openai`` package keeps whatever it cannot type as it came: a
``message`` may be null, a tool call's ``name`` null and its ``arguments`` a JSON object, a
count a string. Every field is read here as JSON data and made the type the agent reads, or
the reply is a `BadReply`: not a chat completion, which `OpenAIChat` asks for again (as after
a 5xx) and then reports as one `ChatError` line.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from .messages import ChatResponse, ToolCall, Usage

__all__ = [
    "BadReply",
    "ReplyTooLarge",
    "chat_response",
    "count_of",
    "field_of",
    "plain",
    "snippet",
    "text_of",
    "unparsed",
]


class BadReply(Exception):
    """A reply that is not a whole chat completion: a body that is not JSON, no message, a
    stream cut short or with an error in it. `what` completes "the model endpoint URL ...";
    `detail` (optional) is what came instead."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"{what}: {detail}" if detail else what)
        self.what = what
        self.detail = detail


class ReplyTooLarge(BadReply):
    """A reply past the client's size bound: reported, not asked for again."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"sent a reply larger than {limit} bytes")


#: The largest token count taken as one (2**53: what a JSON number holds exactly); a count
#: beyond it is no count a server means, and is read as unknown (0).
MAX_COUNT = 2**53


def plain(value: Any) -> Any:
    """The JSON data of an ``openai`` SDK object (which keeps what it could not type, as it
    came); anything else as it is."""
    dump = getattr(value, "model_dump", None)
    return dump(warnings=False) if callable(dump) else value


def field_of(value: Any, key: str) -> Any:
    """``value[key]`` when `value` is a JSON object, else None."""
    return value.get(key) if isinstance(value, dict) else None


def text_of(value: Any) -> str | None:
    """A ``content`` as text: a string as it is; a list of parts (``[{"type": "text",
    "text": ...}]``, as some servers send) joined; other JSON as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p if isinstance(p, str) else field_of(p, "text") for p in value]
        return "".join(p for p in parts if isinstance(p, str))
    return json.dumps(value, ensure_ascii=False, default=str)


def count_of(value: Any) -> int:
    """A token count: a whole number from 0 below `MAX_COUNT` (a string of digits too); 0
    (unknown) for anything else, a count of thousands of digits included."""
    count = 0
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and math.isfinite(value):
        count = int(value)
    elif isinstance(value, str) and len(value) <= 40 and value.strip().isdigit():
        count = int(value.strip())
    return count if 0 <= count < MAX_COUNT else 0


def snippet(value: Any, limit: int = 120) -> str:
    """The start of what came instead of a reply, on one line."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def unparsed(exc: Exception) -> str:
    """The text that did not parse (a `json.JSONDecodeError` keeps it), else the error."""
    doc = getattr(exc, "doc", None)
    return doc if isinstance(doc, str) else str(exc)


def chat_response(reply: Any) -> ChatResponse:
    """A `ChatResponse` from the reply's JSON, every field made the type the agent reads
    (`codeact.chat.replies`); a reply with no message in it is a `BadReply`. A tool call
    without a name stays a call, named "": the agent answers it as a call of no tool,
    and the model redoes it."""
    reply = plain(reply)
    if not isinstance(reply, dict):  # a body of another type than JSON comes as its text
        raise BadReply("sent a reply that is not a chat completion", snippet(reply))
    choices = reply.get("choices")
    if not isinstance(choices, list) or not choices:
        error = reply.get("error")
        if error:
            detail = field_of(error, "message") or error
            raise BadReply("sent an error instead of a reply", snippet(detail))
        raise BadReply("returned no reply")
    choice = choices[0]
    message = field_of(choice, "message")
    if not isinstance(message, dict):
        raise BadReply("returned a reply without a message", snippet(json.dumps(choice)))
    calls = message.get("tool_calls")
    if isinstance(calls, dict):  # one call, not in a list
        calls = [calls]
    tool_calls = tuple(
        ToolCall(
            id=_call_id(c.get("id")),
            name=field_of(c["function"], "name"),
            arguments=field_of(c["function"], "arguments") or "{}",
        )
        for c in (calls if isinstance(calls, list) else ())
        # A call of another type than a function (one we never offer) has no "function".
        if isinstance(c, dict) and isinstance(c.get("function"), dict)
    )
    text = text_of(message.get("content"))
    if text is None:  # a model that declines says why here (OpenAI)
        text = text_of(message.get("refusal"))
    usage = reply.get("usage")
    finish = choice.get("finish_reason")
    model = reply.get("model")
    return ChatResponse(
        text=text,
        tool_calls=tool_calls,
        usage=Usage(
            input_tokens=count_of(field_of(usage, "prompt_tokens")),
            output_tokens=count_of(field_of(usage, "completion_tokens")),
            total_tokens=count_of(field_of(usage, "total_tokens")),
        ),
        finish_reason=finish if isinstance(finish, str) else None,
        model=model if isinstance(model, str) else None,
    )


def _call_id(value: Any) -> str:
    """A tool call's id as the server sent it, or one made up when it sent none."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)
    return f"call_{next(_ids)}"


_ids = itertools.count(1)
