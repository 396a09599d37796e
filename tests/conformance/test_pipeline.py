"""One pipeline for every tool call: nested calls (from code) and direct calls (from an agent)
pass the same middlewares, approvals and audit."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeact import CodeAct, tool
from codeact.bridge.protocol import ToolCallRecord
from codeact.calls.approvals import ApprovalRequest
from codeact.calls.audit import JsonlAudit, Redact
from codeact.calls.call import CallDenied, ToolInvocation
from codeact.calls.middleware import CallNext, LogCalls, Middleware, RateLimit

THREADS: list[str] = []


@tool
def where(tag: str = "") -> str:
    """Returns the name of the thread the tool ran on."""
    THREADS.append(threading.current_thread().name)
    return tag


@tool
def login(user: str, password: str) -> str:
    """Log in (the password must never be recorded)."""
    return f"{user}:{len(password)}"


@tool(approval_mode="always_require")
def delete_file(path: str) -> str:
    """Delete a file (needs approval)."""
    return f"deleted {path}"


async def test_middlewares_run_in_order_for_nested_and_direct_calls(
    make_codeact: Callable[..., CodeAct],
) -> None:
    trace: list[str] = []

    def tracer(label: str) -> Callable[[ToolInvocation, CallNext], Any]:
        async def middleware(call: ToolInvocation, call_next: CallNext) -> Any:
            trace.append(f"{label}>{call.origin}:{call.name}")
            result = await call_next(call)
            trace.append(f"<{label}")
            return result

        return middleware

    codeact = make_codeact(tools=[where], middleware=[tracer("outer"), tracer("inner")])
    result = await codeact.execute("where(tag='nested')")
    assert result.ok and result.value == "nested"
    direct = await codeact.call_direct("where", {"tag": "direct"})
    assert direct.ok and direct.value == "direct"
    assert trace == [
        "outer>code:where",
        "inner>code:where",
        "<inner",
        "<outer",
        "outer>direct:where",
        "inner>direct:where",
        "<inner",
        "<outer",
    ]
    assert direct.record.origin == "direct" and result.tool_calls[0].origin == "code"


async def test_a_policy_middleware_denies_nested_and_direct_calls_alike(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def no_secrets(call: ToolInvocation, call_next: CallNext) -> Any:
        if "secret" in str(call.arguments.get("tag", "")):
            raise CallDenied("tags may not mention secrets")
        return await call_next(call)

    codeact = make_codeact(tools=[where], middleware=[no_secrets])
    code = (
        "try:\n    where(tag='my secret')\nexcept ToolDenied as e:\n    print(e)\nwhere(tag='fine')"
    )
    result = await codeact.execute(code)
    assert result.ok and result.value == "fine"
    assert "tags may not mention secrets" in result.stdout
    record = result.tool_calls[0]
    assert (record.outcome, record.decision, record.handler) == ("denied", "denied", "no_secrets")
    direct = await codeact.call_direct("where", '{"tag": "secret plans"}')
    assert not direct.ok and direct.error_kind == "denied"
    assert "tags may not mention secrets" in (direct.error or "")
    assert direct.record.handler == "no_secrets"


async def test_a_middleware_can_replace_the_arguments(make_codeact: Callable[..., CodeAct]) -> None:
    async def shout(call: ToolInvocation, call_next: CallNext) -> Any:
        call.replace_arguments({"tag": str(call.arguments["tag"]).upper()})
        return await call_next(call)

    codeact = make_codeact(tools=[where], middleware=[shout])
    assert (await codeact.execute("where(tag='hi')")).value == "HI"
    assert (await codeact.call_direct("where", {"tag": "yo"})).value == "YO"


class CountCalls(Middleware):
    """A synchronous-capable middleware: it keeps the inline fast path."""

    def __init__(self) -> None:
        self.count = 0

    def call_sync(self, call: ToolInvocation, call_next: Callable[[ToolInvocation], Any]) -> Any:
        self.count += 1
        return call_next(call)

    async def __call__(self, call: ToolInvocation, call_next: CallNext) -> Any:
        self.count += 1
        return await call_next(call)


async def test_sync_tools_stay_on_the_sandbox_thread_unless_an_async_middleware_applies(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def passthrough(call: ToolInvocation, call_next: CallNext) -> Any:
        return await call_next(call)

    counter = CountCalls()
    THREADS.clear()
    await make_codeact(tools=[where]).execute("where()")
    await make_codeact(tools=[where], middleware=[counter, RateLimit(100, per=1)]).execute(
        "where()"
    )
    await make_codeact(tools=[where], middleware=[passthrough]).execute("where()")
    await make_codeact(tools=[where], middleware=[counter]).execute(
        "import asyncio\nawait call_tool_async('where')"
    )
    # Calls that hop to the event loop run sync tools on codeact's own threads
    # ("codeact-tool-N"), never the loop's default executor, which is the application's;
    # inline calls run on whichever thread serves the guest.
    on_loop_worker = [name.startswith("codeact-tool") for name in THREADS]
    assert on_loop_worker == [False, False, True, True]
    assert counter.count == 2


async def test_rate_limit_counts_nested_and_direct_calls_together(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[where], middleware=[RateLimit(3, per=3600, tools=["where"])])
    assert (await codeact.call_direct("where", {})).ok
    code = """
out = []
for i in range(3):
    try:
        out.append(where(tag=str(i)))
    except ToolDenied as e:
        out.append(str(e))
out
"""
    result = await codeact.execute(code)
    assert result.value[:2] == ["0", "1"]
    assert "rate limit: where() may be called 3 times per 3600s" in result.value[2]
    assert result.tool_calls[2].handler == "rate_limit"
    assert not (await codeact.call_direct("where", {})).ok


async def test_rate_limit_does_not_count_calls_a_person_denied(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def deny(request: ApprovalRequest) -> bool:
        return bool(request.arguments["path"] != "/etc")

    codeact = make_codeact(
        tools=[delete_file], approval_handler=deny, middleware=[RateLimit(1, per=3600)]
    )
    code = "try:\n    delete_file('/etc')\nexcept ToolDenied:\n    pass\ndelete_file('/tmp/x')"
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value == "deleted /tmp/x"


async def test_direct_calls_of_gated_tools_ask_the_handler_with_the_history(
    make_codeact: Callable[..., CodeAct],
) -> None:
    seen: list[ApprovalRequest] = []

    async def handler(request: ApprovalRequest) -> bool:
        seen.append(request)
        return True

    codeact = make_codeact(tools=[where, delete_file], approval_handler=handler)
    first = await codeact.call_direct("where", {"tag": "a"})
    second = await codeact.call_direct(delete_file, {"path": "/tmp/y"}, history=[first.record])
    assert second.ok and second.value == "deleted /tmp/y"
    [request] = seen
    assert request.origin == "direct" and request.code is None
    assert [c.name for c in request.calls] == ["where"]
    assert (second.record.decision, second.record.handler) == ("approved", "handler")


async def test_direct_calls_report_invalid_arguments_and_tool_errors(
    make_codeact: Callable[..., CodeAct],
) -> None:
    @tool
    def fails() -> str:
        """Always fails."""
        raise ValueError("broken")

    codeact = make_codeact(tools=[where, fails])
    invalid = await codeact.call_direct("where", '{"tag": 5, "extra": 1}')
    assert not invalid.ok and invalid.error_kind == "invalid"
    assert "unexpected argument 'extra'" in (invalid.error or "")
    failed = await codeact.call_direct("fails")
    assert not failed.ok and failed.error == "ValueError: broken"
    assert failed.record.outcome == "error"
    assert failed.to_model_text() == "error (error): ValueError: broken"


# -- audit -----------------------------------------------------------------------------------
async def test_audit_records_every_call_and_writes_json_lines(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    async def handler(request: ApprovalRequest) -> bool:
        return request.kind == "block" or request.arguments == {"path": "/tmp/a"}

    live = tmp_path / "live.jsonl"
    sink = JsonlAudit(live)
    codeact = make_codeact(
        tools=[where, delete_file, login],
        approval_handler=handler,
        approval_mode="always_require",
        redact=["password"],
        audit=sink,
    )
    code = """
where(tag="x")
login(user="ann", password="hunter2")
delete_file(path="/tmp/a")
try:
    delete_file(path="/tmp/b")
except ToolDenied:
    pass
try:
    call_tool("nope")
except ToolError:
    pass
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    await codeact.call_direct("where", {"tag": "direct"})
    sink.close()
    lines = [json.loads(line) for line in result.audit_jsonl().splitlines()]
    assert [(d["name"], d["origin"], d["decision"], d["outcome"]) for d in lines] == [
        ("execute_code", "block", "approved", "ok"),
        ("where", "code", "not_required", "ok"),
        ("login", "code", "not_required", "ok"),
        ("delete_file", "code", "approved", "ok"),
        ("delete_file", "code", "denied", "denied"),
        ("nope", "code", "not_required", "unknown"),
    ]
    assert lines[2]["arguments"] == {"user": "ann", "password": "[redacted]"}
    assert all(line["handler"] == "handler" for line in lines[:1] + lines[3:5])
    assert len({line["run_id"] for line in lines}) == 1
    assert all(isinstance(line["duration_ms"], float) for line in lines)
    live_lines = [json.loads(line) for line in live.read_text().splitlines()]
    assert [d["name"] for d in live_lines] == [d["name"] for d in lines] + ["where"]
    assert live_lines[-1]["origin"] == "direct"
    assert "hunter2" not in live.read_text()
    written = tmp_path / "result.jsonl"
    result.write_audit(written)
    assert written.read_text() == result.audit_jsonl()
    assert "hunter2" not in json.dumps(result.to_dict())


def strict_json(text: str) -> Any:
    """`json.loads` as strict readers (JavaScript, Go, jq) read: no NaN nor Infinity."""

    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


@tool
def echo_number(x: float, more: list[float] | None = None) -> float:
    """Echo a number."""
    return x


async def test_non_finite_arguments_are_written_as_strict_json(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    # A program (the model) may pass NaN and infinities to a float parameter; every JSON the
    # library writes of the call (the audit file, audit_jsonl(), to_dict()) stays JSON that
    # strict readers take, with such a float as a string.
    live = tmp_path / "live.jsonl"
    sink = JsonlAudit(live)
    codeact = make_codeact(tools=[echo_number], audit=sink)
    code = "echo_number(x=float('nan'))\necho_number(x=float('-inf'), more=[1.5, float('inf')])"
    result = await codeact.execute(code)
    sink.close()
    assert result.ok, result.error
    for text in (live.read_text(), result.audit_jsonl()):
        lines = [strict_json(line) for line in text.splitlines()]
        assert [line["arguments"] for line in lines] == [
            {"x": "NaN"},
            {"x": "-Infinity", "more": [1.5, "Infinity"]},
        ]
    data = strict_json(json.dumps(result.to_dict()))
    assert data["tool_calls"][1]["arguments"]["more"] == [1.5, "Infinity"]
    assert data["value"] == "-inf" and data["value_is_repr"] is True


async def test_redaction_hides_values_by_tool_and_at_any_depth(
    make_codeact: Callable[..., CodeAct],
) -> None:
    @tool
    def configure(settings: dict[str, Any]) -> int:
        """Apply settings."""
        return len(settings)

    codeact = make_codeact(tools=[configure, login], redact=Redact(tools={"configure": ["token"]}))
    result = await codeact.execute(
        "configure(settings={'a': {'token': 't0p'}})\nlogin(user='u', password='p')"
    )
    assert result.ok and result.value == "u:1"  # the tool got the real password
    assert result.tool_calls[0].arguments == {"settings": {"a": {"token": "[redacted]"}}}
    assert result.tool_calls[1].arguments == {"user": "u", "password": "p"}


async def test_log_calls_logs_nested_and_direct_calls_with_redacted_arguments(
    make_codeact: Callable[..., CodeAct], caplog: pytest.LogCaptureFixture
) -> None:
    codeact = make_codeact(tools=[login], middleware=[LogCalls()], redact=["password"])
    with caplog.at_level(logging.INFO, logger="codeact.tools"):
        await codeact.execute("login(user='ann', password='hunter2')")
        await codeact.call_direct("login", {"user": "bob", "password": "swordfish"})
    messages = [r.getMessage() for r in caplog.records if r.name == "codeact.tools"]
    assert len(messages) == 2
    assert messages[0].startswith('code call login({"user": "ann", "password": "[redacted]"}) ok')
    assert messages[1].startswith("direct call login(")
    assert "hunter2" not in caplog.text and "swordfish" not in caplog.text


@tool
def fails_quoting(text: str) -> str:
    """Fails with a message that quotes a lone surrogate."""
    raise ValueError("bad: \ud800" + text)


async def test_calls_with_lone_surrogates_are_all_in_the_audit_file(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    """A program's strings may hold lone surrogates, which UTF-8 cannot: in a tool's name, its
    arguments, or an error message. Every such call is still a line of the audit file (with
    JSON's escapes), readable back to the same values; none is left out."""
    path = tmp_path / "audit.jsonl"
    sink = JsonlAudit(path)
    codeact = make_codeact(tools=[where, fails_quoting], audit=sink)
    code = """
for attempt in (lambda: call_tool("\\\\ud800x", tag="a"), lambda: where(tag="\\\\udfff"),
                lambda: where(tag="ok"), lambda: fails_quoting(text="t")):
    try:
        attempt()
    except ToolError:
        pass
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    sink.close()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["outcome"] for line in lines] == [c.outcome for c in result.tool_calls]
    assert len(lines) == 4
    assert lines[2] == {**lines[2], "name": "where", "arguments": {"tag": "ok"}}
    assert lines[3]["error"] == result.tool_calls[3].error
    assert "\\ud800" in lines[3]["error"]  # escaped where it was written, not dropped


def test_an_audit_stream_narrower_than_utf8_gets_every_record() -> None:
    """A stream in ASCII (a terminal, a pipe in another locale) takes each record with JSON's
    escapes instead of refusing it."""
    import io

    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="ascii")
    sink = JsonlAudit(stream)
    sink(ToolCallRecord(name="weiß", arguments={"city": "Zürich ✓"}, started_ms=0.0))
    stream.flush()
    line = buffer.getvalue().decode("ascii")
    assert json.loads(line)["arguments"] == {"city": "Zürich ✓"}
