"""OpenTelemetry spans of executions, nested calls and agent runs, checked with the SDK's
in-memory exporter (a real tracer provider, nothing mocked)."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Histogram, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codeact import Agent, CallDenied, CodeAct, Limits, tool
from codeact.calls import ToolInvocation
from codeact.runtime.tracing import NOT_CAPTURED
from codeact.testing import ScriptedChat, call


@tool
def get_price(item: str) -> float:
    """The price of an item."""
    return {"apple": 0.5, "pear": 0.75}[item]


@tool
def broken(item: str) -> float:
    """Always fails."""
    raise ValueError(f"no stock for {item}")


@tool
def delete_all() -> str:
    """Deletes everything."""
    return "deleted"


async def deny_deletes(call: ToolInvocation, call_next: Any) -> Any:
    if call.name == "delete_all":
        raise CallDenied("deleting is not allowed", by="policy")
    return await call_next(call)


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def times(span: ReadableSpan) -> tuple[int, int]:
    """When a finished span started and ended (ns)."""
    assert span.start_time is not None and span.end_time is not None
    return span.start_time, span.end_time


PROGRAM = """
total = get_price(item="apple") + get_price(item="pear")
try:
    broken(item="plum")
except ToolError:
    pass
try:
    delete_all()
except ToolDenied:
    pass
print(total)
total
"""


@pytest.mark.usefixtures("wasm_ready")
async def test_an_execution_is_a_span_with_a_child_per_nested_call(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    codeact = CodeAct(
        tools=[get_price, broken, delete_all],
        backend="wasm",
        middleware=[deny_deletes],
        tracer_provider=provider,
        meter_provider=meters,
    )
    result = await codeact.execute(PROGRAM)
    assert result.ok, result.error
    spans = exporter.get_finished_spans()
    (root,) = by_name(spans, "execute_tool execute_code")
    attrs = dict(root.attributes or {})
    assert attrs["gen_ai.operation.name"] == "execute_tool"
    assert attrs["gen_ai.tool.name"] == "execute_code"
    assert attrs["gen_ai.tool.call.id"]
    assert attrs["codeact.backend"] == "wasm"
    assert attrs["codeact.outcome"] == "ok"
    assert attrs["codeact.tool_calls"] == 4
    assert attrs["codeact.output_bytes"] == len("1.25\n")
    assert attrs["codeact.limits.wall_time_s"] == 30.0
    assert "gen_ai.tool.call.arguments" not in attrs  # no content unless asked

    price_spans = by_name(spans, "execute_tool get_price")
    assert len(price_spans) == 2
    assert all(parent_of(s) == root.context.span_id for s in price_spans)
    assert {dict(s.attributes or {})["codeact.tool.outcome"] for s in price_spans} == {"ok"}
    assert all("gen_ai.tool.call.arguments" not in (s.attributes or {}) for s in price_spans)

    (failed,) = by_name(spans, "execute_tool broken")
    assert dict(failed.attributes or {})["codeact.tool.outcome"] == "error"
    assert not failed.status.is_ok
    (event,) = [e for e in failed.events if e.name == "exception"]
    # a tool's error is content (it may quote what the tool read): not recorded unless asked
    assert dict(event.attributes or {})["exception.message"] == NOT_CAPTURED

    (denied,) = by_name(spans, "execute_tool delete_all")
    denied_attrs = dict(denied.attributes or {})
    assert denied_attrs["codeact.tool.outcome"] == "denied"
    assert denied_attrs["codeact.tool.decided_by"] == "policy"
    assert [e.name for e in denied.events] == ["exception"]
    root_start, root_end = times(root)
    for child in (*price_spans, failed, denied):
        start, end = times(child)
        assert root_start <= start <= end <= root_end

    metrics = reader.get_metrics_data()
    assert metrics is not None
    points = {
        dict(p.attributes or {})["gen_ai.tool.name"]: p.count
        for rm in metrics.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "gen_ai.execute_tool.duration" and isinstance(m.data, Histogram)
        for p in m.data.data_points
    }
    assert points == {"get_price": 2, "broken": 1, "delete_all": 1, "execute_code": 1}
    meters.shutdown()


@pytest.mark.usefixtures("wasm_ready")
async def test_a_stopped_program_s_span_names_the_limit(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    codeact = CodeAct(backend="wasm", limits=Limits(wall_time=1), tracer_provider=provider)
    result = await codeact.execute("print('working')\nwhile True:\n    pass")
    assert result.error is not None and result.error.limit == "wall_time"
    (root,) = exporter.get_finished_spans()
    attrs = dict(root.attributes or {})
    assert attrs["codeact.outcome"] == "stopped"
    assert attrs["codeact.stop.limit"] == "wall_time"
    assert "wall-time limit" in str(attrs["codeact.stop.reason"])
    assert not root.status.is_ok
    assert [e.name for e in root.events] == ["exception"]


@pytest.mark.usefixtures("wasm_ready")
async def test_content_is_recorded_only_when_asked_and_redacted(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @tool
    def login(user: str, password: str) -> str:
        """Log in."""
        return f"welcome {user}"

    codeact = CodeAct(
        tools=[login],
        backend="wasm",
        tracer_provider=provider,
        capture_content=True,
        redact=["password"],
    )
    result = await codeact.execute("print(login(user='ann', password='hunter2'))")
    assert result.ok
    spans = exporter.get_finished_spans()
    (call_span,) = by_name(spans, "execute_tool login")
    attrs = dict(call_span.attributes or {})
    assert "ann" in str(attrs["gen_ai.tool.call.arguments"])
    assert "hunter2" not in str(attrs["gen_ai.tool.call.arguments"])
    assert attrs["gen_ai.tool.call.result"] == '"welcome ann"'
    (root,) = by_name(spans, "execute_tool execute_code")
    root_attrs = dict(root.attributes or {})
    assert "login(" in str(root_attrs["gen_ai.tool.call.arguments"])
    assert root_attrs["gen_ai.tool.call.result"] == "welcome ann\n"


@pytest.mark.usefixtures("wasm_ready")
async def test_a_span_the_caller_has_open_is_the_parent(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = provider.get_tracer("app")
    codeact = CodeAct(tools=[get_price], backend="wasm", tracer_provider=provider)
    with tracer.start_as_current_span("handle request") as outer:
        await codeact.execute("get_price(item='apple')")
    (root,) = by_name(exporter.get_finished_spans(), "execute_tool execute_code")
    assert parent_of(root) == outer.get_span_context().span_id


@pytest.mark.usefixtures("wasm_ready")
async def test_an_approval_wait_is_its_own_span_under_the_call(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    @tool(approval_mode="always_require")
    def send(to: str) -> str:
        """Send a message."""
        return "sent"

    async def approve(request: Any) -> bool:
        return True

    codeact = CodeAct(
        tools=[send], backend="wasm", tracer_provider=provider, approval_handler=approve
    )
    result = await codeact.execute("send(to='bob')")
    assert result.ok, result.error
    spans = exporter.get_finished_spans()
    (call_span,) = by_name(spans, "execute_tool send")
    (wait,) = by_name(spans, "approval send")
    assert parent_of(wait) == call_span.context.span_id
    assert dict(wait.attributes or {})["codeact.approval.approved"] is True


@pytest.mark.usefixtures("wasm_ready")
async def test_an_agent_run_nests_chat_turns_and_the_program(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    codeact = CodeAct(tools=[get_price], backend="wasm", tracer_provider=provider)
    chat = ScriptedChat(
        [call("execute_code", code="print(get_price(item='pear'))"), "A pear costs 0.75."]
    )
    result = await Agent(client=chat, codeact=codeact).run("How much is a pear?")
    assert result.text == "A pear costs 0.75."
    spans = exporter.get_finished_spans()
    (agent,) = [s for s in spans if s.name.startswith("invoke_agent")]
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(chats) == 2
    assert all(parent_of(s) == agent.context.span_id for s in chats)
    for turn in chats:
        attrs = dict(turn.attributes or {})
        assert attrs["gen_ai.operation.name"] == "chat"
        assert "gen_ai.usage.input_tokens" in attrs and "gen_ai.usage.output_tokens" in attrs
    (program,) = by_name(spans, "execute_tool execute_code")
    assert parent_of(program) == agent.context.span_id
    (nested,) = by_name(spans, "execute_tool get_price")
    assert parent_of(nested) == program.context.span_id
    agent_attrs = dict(agent.attributes or {})
    assert agent_attrs["gen_ai.operation.name"] == "invoke_agent"
    assert "gen_ai.usage.input_tokens" in agent_attrs


def _strings(span: ReadableSpan) -> list[str]:
    found = [span.name, *(v for v in (span.attributes or {}).values() if isinstance(v, str))]
    for event in span.events:
        found += [v for v in (event.attributes or {}).values() if isinstance(v, str)]
    return found


@pytest.mark.usefixtures("wasm_ready")
async def test_lone_surrogates_in_a_program_reach_the_spans_escaped(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """An exporter (OTLP's protobuf) drops any attribute UTF-8 cannot hold: every string a
    span gets from the program (its code, a tool's name and arguments, an error) comes
    escaped, so none is lost."""
    codeact = CodeAct(
        tools=[get_price, broken], backend="wasm", tracer_provider=provider, capture_content=True
    )
    code = (
        "for attempt in (lambda: call_tool('\\ud800x'), lambda: broken(item='\\udfff'),\n"
        "                lambda: get_price(item='\\ud801')):\n"
        "    try:\n        attempt()\n    except ToolError:\n        pass\n"
    )
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert len(result.tool_calls) == 3
    await codeact.execute("# a program whose own text has one: \udc80\n1")
    spans = exporter.get_finished_spans()
    assert len(spans) == 5
    for span in spans:
        for text in _strings(span):
            text.encode("utf-8")  # raises if a lone surrogate is left
    roots = by_name(spans, "execute_tool execute_code")
    assert "\\udc80" in str((roots[1].attributes or {})["gen_ai.tool.call.arguments"])


def _documented(span_row: str) -> tuple[set[str], set[str]]:
    """The attribute names (``codeact.limits.*`` as a prefix) and the outcome values that
    docs/observability.md's table gives for the span of the row starting `span_row`."""
    docs = Path(__file__).parents[2] / "docs" / "observability.md"
    (row,) = [ln for ln in docs.read_text().splitlines() if ln.startswith(span_row)]
    names = {m.split("=")[0] for m in re.findall(r"`([a-z_][a-z_.*]*(?:=[a-z_]+)?)`", row)}
    outcomes = re.search(r"outcome` \(([^)]*)\)", row)
    assert outcomes is not None
    return names, set(outcomes.group(1).split(", "))


def _is_documented(key: str, names: set[str]) -> bool:
    return key in names or any(n.endswith("*") and key.startswith(n[:-1]) for n in names)


@pytest.mark.usefixtures("wasm_ready")
async def test_span_attributes_are_the_documented_ones_and_mean_what_the_docs_say(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    started, release = threading.Event(), threading.Event()

    @tool
    def hold() -> str:
        """Wait until released."""
        started.set()
        release.wait(60)
        return "released"

    codeact = CodeAct(
        tools=[get_price, broken, hold],
        backend="wasm",
        limits=Limits(wall_time=2, output_bytes=64),
        tracer_provider=provider,
    )
    programs = {
        "ok": "get_price(item='apple')",
        "error": "1 / 0",
        "tool_error": "broken(item='plum')",
        "stopped": "while True:\n    pass",
        "cut": "print('x' * 1000)",
    }
    results = {name: await codeact.execute(code) for name, code in programs.items()}
    running = asyncio.ensure_future(codeact.execute("hold()"))
    try:
        assert await asyncio.to_thread(started.wait, 60)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    finally:
        release.set()

    spans = exporter.get_finished_spans()
    roots = by_name(spans, "execute_tool execute_code")
    assert len(roots) == len(programs) + 1
    attrs = [dict(s.attributes or {}) for s in roots]
    by_program = dict(zip([*programs, "cancelled"], attrs, strict=True))

    assert "error.type" not in by_program["ok"] and roots[0].status.is_ok
    error = by_program["error"]
    assert (error["codeact.outcome"], error["error.type"]) == ("error", "ZeroDivisionError")
    assert "codeact.stop.reason" not in error and "codeact.stop.limit" not in error
    assert "codeact.stop.reason" not in by_program["tool_error"]
    stopped = by_program["stopped"]
    assert stopped["codeact.outcome"] == "stopped" and stopped["codeact.stop.limit"]
    assert stopped["codeact.stop.reason"] and stopped["error.type"] == (
        results["stopped"].error.type if results["stopped"].error else None
    )
    cancelled = by_program["cancelled"]
    assert (cancelled["codeact.outcome"], cancelled["error.type"]) == (
        "cancelled",
        "CancelledError",
    )
    (failed_call,) = by_name(spans, "execute_tool broken")
    assert dict(failed_call.attributes or {})["error.type"] == "ToolError"
    (ok_call,) = by_name(spans, "execute_tool get_price")
    assert "error.type" not in (ok_call.attributes or {})

    names, outcomes = _documented("| `execute_tool execute_code` |")
    for root in attrs:
        assert root["codeact.outcome"] in outcomes
        assert [k for k in root if not _is_documented(k, names)] == []
    call_names, call_outcomes = _documented("| `execute_tool NAME` | one per nested")
    for call_span in by_name(spans, "execute_tool broken") + by_name(spans, "execute_tool hold"):
        call_attrs = dict(call_span.attributes or {})
        assert call_attrs["codeact.tool.outcome"] in call_outcomes
        assert [k for k in call_attrs if not _is_documented(k, call_names)] == []
