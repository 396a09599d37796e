"""Spans of the agent loop, after the GenAI semantic conventions: ``invoke_agent codeact``
around a run, ``chat MODEL`` around each model turn (with its token usage) and
``execute_tool NAME`` around each direct tool call. A program's ``execute_tool
execute_code`` span (`codeact.runtime.tracing`) nests under the turn that ran it.

Nothing is imported unless the application uses OpenTelemetry (see `tracer_for`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..bridge.protocol import ToolCallRecord
from ..chat.messages import Usage
from ..runtime.tracing import call_error_text, capture_content_default, tracer_for

__all__ = ["agent_span", "chat_span", "direct_call_span", "end_call", "set_usage"]


@contextlib.contextmanager
def agent_span(provider: Any, *, model: str, name: str = "codeact") -> Iterator[Any]:
    """The span of one agent run (None when tracing is off)."""
    tracer = tracer_for(provider)
    if tracer is None:
        yield None
        return
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": name,
        "gen_ai.request.model": model,
    }
    with tracer.start_as_current_span(f"invoke_agent {name}", attributes=attributes) as span:
        yield span


@contextlib.contextmanager
def chat_span(provider: Any, *, model: str) -> Iterator[Any]:
    """The span of one model turn (None when tracing is off); `set_usage` fills its tokens."""
    tracer = tracer_for(provider)
    if tracer is None:
        yield None
        return
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    with tracer.start_as_current_span(f"chat {model}", attributes=attributes) as span:
        yield span


def set_usage(span: Any, usage: Usage, *, model: str | None = None) -> None:
    """Record tokens (and the model that answered) on a chat or agent span."""
    if span is None:
        return
    span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    if model:
        span.set_attribute("gen_ai.response.model", model)


@contextlib.contextmanager
def direct_call_span(provider: Any, name: str) -> Iterator[Any]:
    """The span of a tool the model called directly; `end_call` records how it ended."""
    tracer = tracer_for(provider)
    if tracer is None:
        yield None
        return
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
    }
    with tracer.start_as_current_span(
        f"execute_tool {name}", attributes=attributes, record_exception=False
    ) as span:
        yield span


def end_call(span: Any, record: ToolCallRecord) -> None:
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("codeact.tool.outcome", record.outcome)
    span.set_attribute("codeact.tool.origin", record.origin)
    if record.outcome != "ok":
        message = call_error_text(record, capture=capture_content_default())
        span.add_event("exception", {"exception.type": "ToolError", "exception.message": message})
        span.set_status(Status(StatusCode.ERROR, message[:256]))
