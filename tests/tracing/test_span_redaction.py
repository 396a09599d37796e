"""With ``capture_content=True`` and ``redact=``, a value the redaction hides in a call's
arguments is hidden in every span of the execution: the call's, and the execution's own
exception, status, output and code (the program had the value too, and may quote it).
Checked with the SDK's in-memory exporter."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codeact import CodeAct, Tool, tool

SECRET = "hunter2-correct-horse"


@tool
def login(user: str, password: str) -> str:
    """Log in."""
    raise ValueError(f"wrong password {password!r} for {user}")


@tool
def check(user: str, password: str) -> str:
    """Check a password."""
    return f"{user} uses {password}"


def texts(span: ReadableSpan) -> list[tuple[str, str]]:
    found = [(k, v) for k, v in (span.attributes or {}).items() if isinstance(v, str)]
    for event in span.events:
        found += [(k, v) for k, v in (event.attributes or {}).items() if isinstance(v, str)]
    return [*found, ("status", span.status.description or "")]


@pytest.fixture
def mount(tmp_path: Path) -> list[tuple[str, str]]:
    (tmp_path / "pw").write_text(SECRET)
    return [(str(tmp_path), "/secrets")]


def redacting(one: Tool, provider: TracerProvider, mount: list[tuple[str, str]]) -> CodeAct:
    """A CodeAct recording content, redacting ``password``, with the secret mounted."""
    return CodeAct(
        tools=[one],
        backend="wasm",
        tracer_provider=provider,
        capture_content=True,
        redact=["password"],
        file_mounts=mount,
    )


@pytest.mark.usefixtures("wasm_ready")
async def test_the_execution_span_s_exception_hides_what_the_redaction_hid(
    provider: TracerProvider, exporter: InMemorySpanExporter, mount: list[tuple[str, str]]
) -> None:
    codeact = redacting(login, provider, mount)
    result = await codeact.execute("login(user='ann', password=open('/secrets/pw').read())")
    assert result.error is not None and SECRET in result.error.message  # the program's own
    assert result.tool_calls[0].error and SECRET not in result.tool_calls[0].error
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "execute_tool execute_code"]
    (event,) = root.events
    message = str(dict(event.attributes or {})["exception.message"])
    assert "[redacted]" in message and "for ann" in message
    assert "[redacted]" in (root.status.description or "")
    leaks = [(s.name, where) for s in spans for where, text in texts(s) if SECRET in text]
    assert leaks == []


@pytest.mark.usefixtures("wasm_ready")
async def test_output_code_and_results_hide_what_the_redaction_hid(
    provider: TracerProvider, exporter: InMemorySpanExporter, mount: list[tuple[str, str]]
) -> None:
    codeact = redacting(check, provider, mount)
    code = (
        "pw = open('/secrets/pw').read()\n"
        f"check(user='ann', password={SECRET!r})\n"
        "print('checked', pw)\n"
        "raise RuntimeError('still ' + pw)"
    )
    result = await codeact.execute(code)
    assert result.error is not None and SECRET in result.stdout
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "execute_tool execute_code"]
    attributes = dict(root.attributes or {})
    assert "check(user='ann', password='[redacted]')" in str(
        attributes["gen_ai.tool.call.arguments"]
    )
    assert "checked [redacted]" in str(attributes["gen_ai.tool.call.result"])
    (call_span,) = [s for s in spans if s.name == "execute_tool check"]
    assert dict(call_span.attributes or {})["gen_ai.tool.call.result"] == '"ann uses [redacted]"'
    leaks = [(s.name, where) for s in spans for where, text in texts(s) if SECRET in text]
    assert leaks == []
