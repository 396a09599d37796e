"""serve-mcp tells a client that asked for progress what the program does while it runs."""

from __future__ import annotations

from typing import cast

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install -e '.[mcp]'")

import mcp
from mcp_types import RequestParamsMeta

from codeact import CodeAct, Limits, tool
from codeact.integrations.mcp_server import build_mcp_server

pytestmark = pytest.mark.usefixtures("wasm_ready")


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return key.upper()


async def test_output_and_calls_arrive_as_progress_before_the_result() -> None:
    codeact = CodeAct(tools=[lookup], backend="wasm", limits=Limits(wall_time=20))
    updates: list[tuple[float, str | None]] = []

    # The parameters are named as in mcp's ProgressFnT protocol.
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, message))

    async with mcp.Client(build_mcp_server(codeact)) as client:
        result = await client.call_tool(
            "execute_code",
            {"code": "print('step 1')\nlookup(key='a')\nprint('step 2')"},
            progress_callback=on_progress,
        )
    assert not result.is_error
    messages = [m for _, m in updates]
    assert messages[:2] == ["step 1\n", "calling lookup()"]
    assert messages[2] is not None and messages[2].startswith("lookup() ok in ")
    assert messages[3] == "step 2\n"
    assert [v for v, _ in updates] == sorted(v for v, _ in updates)


async def test_a_trace_the_client_sends_in_meta_is_continued() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    codeact = CodeAct(tools=[lookup], backend="wasm", tracer_provider=provider)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with mcp.Client(build_mcp_server(codeact)) as client:
        result = await client.call_tool(
            "execute_code",
            {"code": "lookup(key='a')"},
            # _meta is an open map (extra_items=Any, PEP 728); mypy does not read that yet.
            meta=cast(RequestParamsMeta, {"traceparent": f"00-{trace_id}-{parent_id}-01"}),
        )
    assert not result.is_error
    (root,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool execute_code"]
    assert format(root.context.trace_id, "032x") == trace_id
    assert root.parent is not None and format(root.parent.span_id, "016x") == parent_id
    provider.shutdown()
