"""What an OpenAI-compatible server sent, read without trusting its shape.

The servers `OpenAIChat` talks to are many (OpenAI, Azure, Ollama, vLLM, llama.cpp, proxies in
front of them), and the ``openai`` package keeps whatever it cannot type as it came: a
``message`` may be null, a tool call's ``name`` null and its ``arguments`` a JSON object, a
count a string. Every field is read here as JSON data and made the type the agent reads, or
the reply is a `BadReply`: not a chat completion, which `OpenAIChat` asks for again (as after
a 5xx) and then reports as one `ChatError` line.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "BadReply",
    "ReplyTooLarge",
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
