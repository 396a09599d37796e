"""The agent loop's spans (``invoke_agent``, ``chat``, direct ``execute_tool NAME``) follow
the rules of a program's spans: a failed one carries ``error.type``; its message and stack
are content, recorded only with capture (the CodeAct's ``capture_content``); and a
program's span carries the id of the model's call that sent it. Checked with the SDK's
in-memory exporter (a real tracer provider; only the sandbox and model are stand-ins)."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codeact import Agent, CodeAct, tool
from codeact.chat.messages import ToolCall
from codeact.errors import ChatError, OutputValidationError, TurnLimitExceeded
from codeact.runtime.tracing import NOT_CAPTURED
from codeact.sandbox.mock import MockBackend
from codeact.testing import ChatRequest, ScriptedChat, call

SECRET = "SECRET-ANSWER patient John Doe, SSN 123-45-6789"


class Total(pydantic.BaseModel):
    total: int


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def lookup(ssn: str) -> str:
    """Look a person up."""
    raise ValueError(f"no record for {ssn}")


@pytest.fixture(autouse=True)
def no_capture_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)


def _codeact(provider: TracerProvider, **options: Any) -> CodeAct:
    options.setdefault("backend", MockBackend(lambda code, call_tool: 42))
    return CodeAct(tools=[add, lookup], tracer_provider=provider, **options)


def _server_error(request: ChatRequest) -> str:
    raise ChatError(f"the model endpoint failed (HTTP 500): {SECRET}")


def _exceptions(span: ReadableSpan) -> list[dict[str, Any]]:
    return [dict(e.attributes or {}) for e in span.events if e.name == "exception"]


def _one(exporter: InMemorySpanExporter, prefix: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]
    return span


def _dumped(exporter: InMemorySpanExporter) -> str:
    return json.dumps(
        [
            [s.status.description, dict(s.attributes or {}), _exceptions(s)]
            for s in exporter.get_finished_spans()
        ],
        default=str,
    )


async def test_without_capture_no_agent_span_quotes_the_answer_or_the_server(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A reply that fails to validate quotes the model's answer (pydantic's
    ``input_value``); a `ChatError`, the server's body. Neither message nor stack is kept."""
    agent = Agent(
        client=ScriptedChat([SECRET, SECRET]), codeact=_codeact(provider), output_type=Total
    )
    with pytest.raises(OutputValidationError, match="SSN"):
        await agent.run("go")
    agent = Agent(client=ScriptedChat([_server_error]), codeact=_codeact(provider))
    with pytest.raises(ChatError, match="SSN"):
        await agent.run("go")

    assert "123-45-6789" not in _dumped(exporter)
    failed = [s for s in exporter.get_finished_spans() if not s.status.is_ok]
    assert sorted(s.name for s in failed) == ["chat scripted", *["invoke_agent codeact"] * 2]
    for span in failed:
        (event,) = _exceptions(span)
        assert event["exception.message"] == NOT_CAPTURED
        assert "exception.stacktrace" not in event
        assert span.status.description == NOT_CAPTURED


async def test_with_the_codeact_s_capture_every_span_records_messages(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """``CodeAct(capture_content=True)`` holds for the agent's spans and for a direct call
    as for a nested call of the same tool (not only the environment variable)."""
    chat = ScriptedChat(
        [call("lookup", ssn="123-45-6789"), call("execute_code", code="lookup"), SECRET]
    )
    codeact = _codeact(provider, capture_content=True)
    agent = Agent(client=chat, tools=[lookup], codeact=codeact, output_type=Total)
    agent.output_retries = 0
    with pytest.raises(OutputValidationError):
        await agent.run("go")

    direct = _one(exporter, "execute_tool lookup")
    (event,) = _exceptions(direct)
    assert event["exception.message"] == "ValueError: no record for 123-45-6789"
    (event,) = _exceptions(_one(exporter, "invoke_agent"))
    assert SECRET in event["exception.message"]
    assert SECRET in event["exception.stacktrace"]  # pydantic's error, chained under it


async def test_the_turn_limit_s_message_is_codeact_s_own_and_always_recorded(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    agent = Agent(
        client=ScriptedChat([call("add", a=1, b=2)]), tools=[add], codeact=_codeact(provider)
    )
    agent.max_turns = 1
    with pytest.raises(TurnLimitExceeded) as raised:
        await agent.run("go")
    (event,) = _exceptions(_one(exporter, "invoke_agent"))
    assert event["exception.message"] == str(raised.value)


async def test_every_failed_agent_span_carries_error_type(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """docs/observability.md: ``error.type`` is set on every span whose operation failed
    (as on nested calls: the outcome's type, not a generic ToolError)."""
    turn = [call("add", a=1, b="x"), call("nosuch"), call("lookup", ssn="1"), call("add", a=1, b=2)]
    agent = Agent(client=ScriptedChat([turn]), tools=[add, lookup], codeact=_codeact(provider))
    agent.max_turns = 1
    with pytest.raises(TurnLimitExceeded):
        await agent.run("go")
    agent = Agent(client=ScriptedChat([_server_error]), codeact=_codeact(provider))
    with pytest.raises(ChatError):
        await agent.run("go")

    types = []
    for span in exporter.get_finished_spans():
        attrs = dict(span.attributes or {})
        failed = not span.status.is_ok
        assert failed == ("error.type" in attrs), span.name
        if failed:
            types.append((span.name, attrs.get("codeact.tool.outcome"), attrs["error.type"]))
            (event,) = _exceptions(span)
            assert str(event["exception.type"]).endswith(str(attrs["error.type"]))
    assert sorted(types, key=str) == sorted(
        [
            ("execute_tool add", "invalid", "InvalidArguments"),
            ("execute_tool nosuch", "unknown", "UnknownTool"),
            ("execute_tool lookup", "error", "ToolError"),
            ("invoke_agent codeact", None, "TurnLimitExceeded"),
            ("chat scripted", None, "ChatError"),
            ("invoke_agent codeact", None, "ChatError"),
        ],
        key=str,
    )


@pytest.mark.parametrize("session", [False, True])
async def test_the_program_s_span_has_the_model_s_call_id(
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    session: bool,
    request: pytest.FixtureRequest,
) -> None:
    """Traces join the conversation: the program's and a direct call's spans carry the id
    the model gave the call (what the tool message answers), not a fresh one; in a session
    (which needs a backend that runs programs) too."""
    if session:
        request.getfixturevalue("wasm_ready")
    program = ToolCall("call_MODEL_ID_123", "execute_code", json.dumps({"code": "6 * 7"}))
    direct = ToolCall("call_DIRECT_456", "add", json.dumps({"a": 1, "b": 2}))
    chat = ScriptedChat([[program, direct], "42"])
    codeact = _codeact(provider, backend="wasm") if session else _codeact(provider)
    agent = Agent(client=chat, tools=[add], codeact=codeact, session=session)
    result = await agent.run("6*7?")
    assert [m.tool_call_id for m in result.messages if m.role == "tool"] == [
        "call_MODEL_ID_123",
        "call_DIRECT_456",
    ]
    ids = {
        s.name: dict(s.attributes or {}).get("gen_ai.tool.call.id")
        for s in exporter.get_finished_spans()
    }
    assert ids["execute_tool execute_code"] == "call_MODEL_ID_123"
    assert ids["execute_tool add"] == "call_DIRECT_456"
