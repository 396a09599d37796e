"""The ``approval NAME`` spans: the block's wait under the execution, each call's wait under
that call (and no other), checked with the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codeact import Approval, ApprovalRequest, CodeAct, tool


@tool(approval_mode="always_require")
async def pay(to: str, amount: int) -> str:
    """Pay someone."""
    await asyncio.sleep(0.2 if to == "a" else 0.5)  # a's call ends first
    return f"paid {to}"


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize("answer", [True, False])
async def test_a_block_s_approval_is_a_span_under_the_execution(
    provider: TracerProvider, exporter: InMemorySpanExporter, answer: bool
) -> None:
    asked: list[str] = []

    def handler(request: ApprovalRequest) -> bool:
        asked.append(request.kind)
        return answer

    codeact = CodeAct(
        tools=[pay],
        backend="wasm",
        tracer_provider=provider,
        approval_handler=handler,
        approval_scope="block",
    )
    result = await codeact.execute("pay(to='a', amount=1)")
    assert asked == ["block"] and result.ok is answer
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "execute_tool execute_code"]
    (wait,) = [s for s in spans if s.name == "approval execute_code"]
    assert wait.parent is not None and wait.parent.span_id == root.context.span_id
    attributes = dict(wait.attributes or {})
    assert attributes["codeact.approval.approved"] is answer
    assert attributes["codeact.approval.by"] == "handler"


CONCURRENT = (
    "import asyncio\n"
    "await asyncio.gather(call_tool_async('pay', to='a', amount=1),"
    " call_tool_async('pay', to='b', amount=2), return_exceptions=True)"
)


@pytest.mark.usefixtures("wasm_ready")
async def test_concurrent_calls_of_one_tool_each_have_their_own_approval(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def handler(request: ApprovalRequest) -> Approval:
        if request.arguments["to"] == "b":
            await asyncio.sleep(0.05)  # decided after a's approval, while a's tool runs
            return Approval.deny("not b")
        return Approval.approve()

    codeact = CodeAct(
        tools=[pay], backend="wasm", tracer_provider=provider, approval_handler=handler
    )
    result = await codeact.execute(CONCURRENT)
    assert sorted((c.arguments["to"], c.decision) for c in result.tool_calls) == [
        ("a", "approved"),
        ("b", "denied"),
    ]
    spans = exporter.get_finished_spans()
    calls = [s for s in spans if s.name == "execute_tool pay"]
    assert len(calls) == 2
    for call_span in calls:
        decision = dict(call_span.attributes or {})["codeact.tool.decision"]
        waits = children(spans, call_span)
        assert [w.name for w in waits] == ["approval pay"], decision
        approved = dict(waits[0].attributes or {})["codeact.approval.approved"]
        assert approved is (decision == "approved")
