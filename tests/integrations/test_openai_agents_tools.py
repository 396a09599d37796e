"""How a program's calls of OpenAI Agents function tools follow the tool's own settings, as
the SDK follows them for a direct call: ``is_enabled``, arguments with defaults, ``timeout=``,
the declared output; hosted tools are refused with what to do; the program's span carries the
model's call id. Driven by the SDK's `Runner` and a fake `Model`; the sandbox is real."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("agents", reason="needs pip install 'codeact[openai-agents]'")

from agents import (
    Agent,
    ModelResponse,
    Runner,
    Usage,
)
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.tracing import set_trace_processors

from codeact.integrations.openai_agents import codeact_tool

pytestmark = pytest.mark.usefixtures("wasm_ready")


@pytest.fixture(autouse=True)
def no_trace_export() -> None:
    """The SDK's default processor would export traces to OpenAI: no test talks to it."""
    set_trace_processors([])


class FakeModel(Model):
    """Calls execute_code with `code` (call id ``call-1``) first; once a tool output is in its
    input, answers with that output."""

    def __init__(self, code: str) -> None:
        self.code = code

    async def get_response(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        items = input if isinstance(input, list) else []
        outputs = [
            i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        if outputs:
            output = [assistant_message(f"answer: {outputs[-1]['output']}")]
        else:
            output = [function_call("execute_code", {"code": self.code}, call_id="call-1")]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


async def _run(execute_code: Any, code: str, context: Any = None) -> str:
    agent = Agent(name="a", tools=[execute_code], model=FakeModel(code))
    result = await Runner.run(agent, "go", context=context)
    return str(result.final_output)


async def test_the_programs_span_carries_the_models_call_id() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs codeact[otel] (opentelemetry-sdk)")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        execute_code = codeact_tool(tools=[], tracer_provider=provider)
        assert "[value] 42" in await _run(execute_code, "6 * 7")
    finally:
        provider.shutdown()
    ids = {
        s.name: dict(s.attributes or {}).get("gen_ai.tool.call.id")
        for s in exporter.get_finished_spans()
    }
    assert ids["execute_tool execute_code"] == "call-1"
