"""What a model, its server or a program chose (a tool's name, a call's id, a model's name,
an error's type) reaches a span bounded and on one line, control and invisible characters
escaped, with content capture off as on. Checked with the SDK's in-memory exporter."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codeact import Agent, CodeAct, tool
from codeact.chat.messages import ChatResponse, ToolCall
from codeact.testing import ScriptedChat

#: A name's limit (`codeact.runtime.tracing.NAME_LIMIT`), what says how long it was, and a
#: span name's "execute_tool ".
LONGEST = 256 + 60
HIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
TRICK = "\x1b[2J\r\n\u202e"


@tool
def lookup(x: int) -> int:
    """Look up."""
    return x


def texts(span: ReadableSpan) -> list[tuple[str, str]]:
    """(where, text) of the span's name and every string in its attributes and events."""
    found = [("name", span.name)]
    found += [(k, v) for k, v in (span.attributes or {}).items() if isinstance(v, str)]
    for event in span.events:
        found += [(k, v) for k, v in (event.attributes or {}).items() if isinstance(v, str)]
    if span.status.description:
        found.append(("status", span.status.description))
    return found


def assert_bounded(spans: tuple[ReadableSpan, ...]) -> None:
    for span in spans:
        for where, text in texts(span):
            assert len(text) <= LONGEST, (span.name[:60], where, len(text))
            assert not HIDDEN.search(text), (span.name[:60], where, text[:60])


@pytest.mark.usefixtures("wasm_ready")
async def test_what_the_model_sends_is_bounded_and_escaped_in_the_agent_s_spans(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    code = json.dumps({"code": "1 + 1"})
    chat = ScriptedChat(
        [
            ChatResponse(
                tool_calls=(ToolCall("c" * 500_000 + TRICK, "execute_code", code),),
                model="m" * 300_000 + TRICK,
            ),
            ChatResponse(
                tool_calls=(ToolCall("id2" + TRICK, "lookup" + TRICK + "T" * 100_000, "{}"),)
            ),
            ChatResponse(text="done"),
        ]
    )
    codeact = CodeAct(tools=[lookup], backend="wasm", tracer_provider=provider)
    agent = Agent(client=chat, codeact=codeact)
    try:
        await agent.run("go")
    finally:
        agent.close()
    spans = exporter.get_finished_spans()
    assert_bounded(spans)
    (program,) = [s for s in spans if s.name == "execute_tool execute_code"]
    call_id = dict(program.attributes or {})["gen_ai.tool.call.id"]
    assert isinstance(call_id, str) and call_id.startswith("c" * 200)
    assert call_id.endswith(" characters in all]")
    (direct,) = [s for s in spans if s.name.startswith("execute_tool lookup")]
    assert direct.name.startswith("execute_tool lookup\\x1b[2J\\r\\n\\u202eTTT")
    models = [dict(s.attributes or {}).get("gen_ai.response.model") for s in spans]
    assert any(isinstance(m, str) and m.startswith("mmm") for m in models)


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize("capture", [False, True])
async def test_what_a_program_names_is_bounded_and_escaped_in_its_spans(
    provider: TracerProvider, exporter: InMemorySpanExporter, capture: bool
) -> None:
    reader = InMemoryMetricReader()
    codeact = CodeAct(
        tools=[lookup],
        backend="wasm",
        tracer_provider=provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
        capture_content=capture,
    )
    unknown = await codeact.execute(f"call_tool({'x' + TRICK!r})")
    assert unknown.tool_calls and unknown.tool_calls[0].outcome == "unknown"
    raised = await codeact.execute(
        f"raise type({'E' + TRICK + 'x' * 1000!r}, (Exception,), {{}})()"
    )
    assert raised.error is not None
    spans = exporter.get_finished_spans()
    (call_span,) = [s for s in spans if s.name.startswith("execute_tool x")]
    assert call_span.name == "execute_tool x\\x1b[2J\\r\\n\\u202e"
    if capture:  # content (the code, the message) keeps its lines: only names are checked
        spans = tuple(s for s in spans if s is call_span)
        errors = [
            dict(s.attributes or {}).get("error.type")
            for s in exporter.get_finished_spans()
            if s.name == "execute_tool execute_code"
        ]
        assert all(e is None or not HIDDEN.search(str(e)) for e in errors), errors
    assert_bounded(spans)
    metrics = reader.get_metrics_data()
    assert metrics is not None
    names = [
        str(dict(point.attributes or {}).get("gen_ai.tool.name"))
        for resource in metrics.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    ]
    assert names and not [n for n in names if HIDDEN.search(n) or len(n) > LONGEST]
