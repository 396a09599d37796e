"""Error messages in spans are content: recorded only when content is asked for, redacted.

A program's exception, a tool's error, a denial's reason and an invalid argument's echo may
quote anything the program or the tool had; with `capture_content` off (the default) an
`exception` event keeps only the type. codeact's own messages (a limit) are always there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import Field

from codeact import CodeAct, Limits, tool
from codeact.runtime.tracing import NOT_CAPTURED

pytestmark = pytest.mark.usefixtures("wasm_ready")


@tool
def login(user: str, password: Annotated[str, Field(min_length=12)]) -> str:
    """Log in (passwords have at least 12 characters)."""
    return f"welcome {user}"


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    raise KeyError(key)


PROGRAM = """
try:
    login(user="ann", password="hunter2")
except ToolError:
    pass
try:
    lookup(key="SECRET-KEY-ARG")
except ToolError:
    pass
raise ValueError("SECRET-FROM-PROGRAM")
"""


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _dump(exporter: InMemorySpanExporter) -> dict[str, str]:
    return {
        s.name: json.dumps(
            [dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]], default=str
        )
        for s in exporter.get_finished_spans()
    }


async def test_without_capture_no_message_quotes_the_program_or_the_tools(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    codeact = CodeAct(tools=[login, lookup], backend="wasm", tracer_provider=provider)
    result = await codeact.execute(PROGRAM)
    assert result.error is not None and result.error.type == "ValueError"
    dumped = _dump(exporter)
    for secret in ("hunter2", "SECRET-KEY-ARG", "SECRET-FROM-PROGRAM"):
        assert not any(secret in text for text in dumped.values()), secret
    assert all(NOT_CAPTURED in text for text in dumped.values())
    stopped = await codeact.execute("while True:\n    pass", limits=Limits(wall_time=1))
    assert stopped.error is not None and stopped.error.limit == "wall_time"
    assert "wall" in _dump(exporter)["execute_tool execute_code"]


async def test_with_capture_messages_are_recorded_with_redacted_values_hidden(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    codeact = CodeAct(
        tools=[login, lookup],
        backend="wasm",
        tracer_provider=provider,
        capture_content=True,
        redact=["password", "key"],
    )
    result = await codeact.execute(PROGRAM)
    assert [c.error for c in result.tool_calls] == [
        "invalid arguments for login(): argument 'password': String should have at least 12 "
        "characters (got '[redacted]'). It takes: user, password",
        "KeyError: '[redacted]'",
    ]
    dumped = _dump(exporter)
    assert "hunter2" not in dumped["execute_tool login"]
    assert "SECRET-KEY-ARG" not in dumped["execute_tool lookup"]
    assert "[redacted]" in dumped["execute_tool lookup"]
    assert "SECRET-FROM-PROGRAM" in dumped["execute_tool execute_code"]  # the program's own


async def test_a_memory_error_the_program_raised_is_content_too(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    codeact = CodeAct(backend="wasm", tracer_provider=provider)
    result = await codeact.execute("raise MemoryError('SECRET-ROW 078-05-1120')")
    assert result.error is not None and result.error.type == "MemoryError"
    assert "SECRET-ROW" not in _dump(exporter)["execute_tool execute_code"]
