"""Spans of the agent loop, after the GenAI semantic conventions: ``invoke_agent codeact``
around a run, ``chat MODEL`` around each model turn (with its token usage) and
``execute_tool NAME`` around each direct tool call. A program's ``execute_tool
execute_code`` span (`codeact.runtime.tracing`) nests under the turn that ran it.

A span whose operation failed gets ``error.type``, an ``exception`` event and error status.
As on a program's spans, a message is content (a reply that failed to validate quotes the
model's answer, a `ChatError` the server's body, a tool's error its arguments): it and the
stack are recorded only when content is (the CodeAct's ``capture_content``, else the
standard variable); codeact's own messages (the turn limit) always. The names and ids a model
or its server sends (a tool's name, a call's id, the model's name) go through `name_text`.

Nothing is imported unless the application uses OpenTelemetry (see `tracer_for`).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from .._display import utf8_safe
from ..bridge.protocol import ToolCallRecord
from ..chat.messages import ToolCall, Usage
from ..errors import TurnLimitExceeded
from ..runtime.tracing import (
    NOT_CAPTURED,
    call_error_text,
    call_error_type,
    capture_setting,
    clip,
    name_text,
    tracer_for,
)

__all__ = [
    "agent_span",
    "capture_of",
    "chat_span",
    "direct_call_span",
    "end_call",
    "record_failure",
    "set_usage",
]

#: Exceptions whose message is codeact's own (no reply, answer or server text in it).
_OWN_MESSAGES: tuple[type[BaseException], ...] = (TurnLimitExceeded,)


def capture_of(codeact: Any) -> bool:
    """Whether the agent's spans record content: as its CodeAct's spans do."""
    return capture_setting(getattr(codeact, "_capture_content", None))


@contextlib.contextmanager
def _span(provider: Any, name: str, attributes: dict[str, Any], *, capture: bool) -> Iterator[Any]:
    """A current span that records an exception leaving it by `record_failure`, not by
    OpenTelemetry's default (which writes its message and stack whatever `capture` says)."""
    tracer = tracer_for(provider)
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except BaseException as exc:
            record_failure(span, exc, capture=capture)
            raise


def record_failure(span: Any, exc: BaseException, *, capture: bool) -> None:
    """Mark `span` failed by `exc`: ``error.type``, an ``exception`` event, error status;
    the message and stack only with `capture` (or when the message is codeact's own)."""
    from opentelemetry.trace import Status, StatusCode

    kind = type(exc)
    qualified = kind.__qualname__
    if kind.__module__ != "builtins":  # as OpenTelemetry's own exception events name it
        qualified = f"{kind.__module__}.{qualified}"
    text = str(exc) or kind.__name__
    event = {"exception.type": name_text(qualified), "exception.message": NOT_CAPTURED}
    if capture or isinstance(exc, _OWN_MESSAGES):
        event["exception.message"] = clip(text)
    if capture:
        event["exception.stacktrace"] = utf8_safe("".join(traceback.format_exception(exc)))
    span.set_attribute("error.type", name_text(kind.__name__))
    span.add_event("exception", event)
    span.set_status(Status(StatusCode.ERROR, clip(event["exception.message"], 256)))


def agent_span(
    provider: Any, *, model: str, capture: bool, name: str = "codeact"
) -> AbstractContextManager[Any]:
    """The span of one agent run (None when tracing is off)."""
    name = name_text(name)
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": name,
        "gen_ai.request.model": name_text(model),  # a client may ask its server for it
    }
    return _span(provider, f"invoke_agent {name}", attributes, capture=capture)


def chat_span(provider: Any, *, model: str, capture: bool) -> AbstractContextManager[Any]:
    """The span of one model turn (None when tracing is off); `set_usage` fills its tokens."""
    model = name_text(model)
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    return _span(provider, f"chat {model}", attributes, capture=capture)


def set_usage(span: Any, usage: Usage, *, model: str | None = None) -> None:
    """Record tokens (and the model that answered) on a chat or agent span."""
    if span is None:
        return
    span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    if model:
        span.set_attribute("gen_ai.response.model", name_text(model))


def direct_call_span(
    provider: Any, call: ToolCall, *, capture: bool
) -> AbstractContextManager[Any]:
    """The span of a tool the model called directly; `end_call` records how it ended."""
    name = name_text(call.name)  # the model's: a tool's, or whatever it made up
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": name_text(call.id),
    }
    return _span(provider, f"execute_tool {name}", attributes, capture=capture)


def end_call(span: Any, record: ToolCallRecord, *, capture: bool) -> None:
    """How a direct call ended, as a nested call of the same tool records it."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("codeact.tool.outcome", record.outcome)
    span.set_attribute("codeact.tool.origin", record.origin)
    if record.outcome != "ok":
        kind, message = call_error_type(record), call_error_text(record, capture=capture)
        span.set_attribute("error.type", kind)
        span.add_event("exception", {"exception.type": kind, "exception.message": message})
        span.set_status(Status(StatusCode.ERROR, clip(message, 256)))
