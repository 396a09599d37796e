"""JSON from a program or a model nested too deep is refused in one line, never a
RecursionError on the host: tool arguments (both kinds of tool, direct calls, records,
the audit), an HTTP request, a session's state request, a program's value."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from codeact import CodeAct, JsonlAudit, Redact, Tool, ToolDefinitionError, tool
from codeact._nesting import (
    ARGUMENTS_TOO_DEEP,
    MAX_JSON_DEPTH,
    TooDeep,
    loads_within,
    raw_decode_within,
    too_deep,
)
from codeact.bridge.http_egress import HttpEgress
from codeact.bridge.protocol import RunOutcome
from codeact.calls.sizes import bounded_copy
from codeact.tools import ToolArgumentsError


def nested(levels: int) -> Any:
    """A list nested `levels` levels deep (``[]`` is one level)."""
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def deep_text(levels: int) -> str:
    return "[" * levels + "]" * levels


def schema_tool(ran: list[Any]) -> Tool:
    return Tool.from_schema(
        "echo", {"type": "object", "properties": {"x": {}}}, lambda x=None: ran.append(x)
    )


def function_tool(ran: list[Any]) -> Tool:
    @tool
    def echo(x: Any = None) -> None:
        """Echo."""
        ran.append(x)

    return echo


KINDS = pytest.mark.parametrize("make", [schema_tool, function_tool], ids=["schema", "function"])


def test_too_deep_counts_levels_without_recursing() -> None:
    assert not too_deep(nested(MAX_JSON_DEPTH)) and too_deep(nested(MAX_JSON_DEPTH + 1))
    assert not too_deep("text") and not too_deep({"a": [1, {"b": ()}]}, 4)
    assert too_deep({"a": [1, {"b": ()}]}, 3)
    assert too_deep(nested(100_000))
    assert not too_deep([list(range(10_000)), {"k": "v"}], 2)


def test_loads_within_refuses_deep_text_as_a_value_error() -> None:
    assert loads_within(json.dumps(nested(MAX_JSON_DEPTH))) == nested(MAX_JSON_DEPTH)
    for text in (json.dumps(nested(MAX_JSON_DEPTH + 1)), deep_text(100_000)):
        with pytest.raises(TooDeep, match=r"more than 200 levels") as caught:
            loads_within(text)
        assert isinstance(caught.value, ValueError)
    decoder = json.JSONDecoder()
    assert raw_decode_within(decoder, "x [[1]] y", 2) == ([[1]], 7)
    with pytest.raises(ValueError, match="too deep"):
        raw_decode_within(decoder, "x " + deep_text(5000), 2)


@KINDS
@pytest.mark.parametrize("levels", [202, 1000, 100_000])
def test_validate_json_refuses_arguments_nested_too_deep(make: Any, levels: int) -> None:
    echo = make([])
    with pytest.raises(ToolArgumentsError) as caught:
        echo.validate_json('{"x": ' + deep_text(levels) + "}")
    assert str(caught.value) == f"invalid arguments for echo(): {ARGUMENTS_TOO_DEEP}. It takes: x"


@KINDS
def test_each_argument_may_nest_200_levels_whatever_the_tool(make: Any) -> None:
    """The arguments object and 200 levels in each argument: as far as pydantic's own parser
    reads, so both kinds of tool take the same arguments."""
    echo = make([])
    ok = '{"x": ' + json.dumps(nested(MAX_JSON_DEPTH)) + "}"
    assert echo.validate_json(ok) == {"x": nested(MAX_JSON_DEPTH)}
    assert echo.validate({"x": nested(MAX_JSON_DEPTH)}) == {"x": nested(MAX_JSON_DEPTH)}
    with pytest.raises(ToolArgumentsError, match="arguments nested too deep"):
        echo.validate_json('{"x": ' + json.dumps(nested(MAX_JSON_DEPTH + 1)) + "}")
    with pytest.raises(ToolArgumentsError, match="arguments nested too deep"):
        echo.validate({"x": nested(MAX_JSON_DEPTH + 1)})


def test_a_recursive_schema_validating_a_deep_value_is_refused_not_raised() -> None:
    """jsonschema recurses several frames per level: the limit holds wherever it runs."""
    node = {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}
    schema = {
        "type": "object",
        "properties": {"x": {"anyOf": [{"$ref": "#/$defs/n"}, {"type": "null"}]}},
        "$defs": {"n": {"anyOf": [node, {"type": "null"}]}},
    }
    tree = Tool.from_schema("tree", schema, lambda x=None: x)
    value: Any = {}
    for _ in range(MAX_JSON_DEPTH - 1):
        value = {"c": value}

    def deep_stack(n: int) -> Any:
        return tree.validate_json(json.dumps({"x": value})) if n == 0 else deep_stack(n - 1)

    try:
        assert deep_stack(400) == {"x": value}
    except ToolArgumentsError as exc:
        assert ARGUMENTS_TOO_DEEP in str(exc)


def test_a_recursive_array_schema_is_rendered() -> None:
    schema = {
        "type": "object",
        "properties": {"x": {"$ref": "#/$defs/n"}},
        "$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
    }
    tree = Tool.from_schema("tree", schema, lambda x=None: x)
    assert tree.signature.startswith("tree(x: list")


@KINDS
@pytest.mark.parametrize("as_text", [True, False], ids=["json", "mapping"])
def test_call_direct_never_raises_for_deep_arguments(make: Any, as_text: bool) -> None:
    ran: list[Any] = []
    stream = io.StringIO()
    codeact = CodeAct(tools=[make(ran)], audit=JsonlAudit(stream), redact=Redact(["secret"]))
    arguments: Any = '{"x": ' + deep_text(5000) + "}" if as_text else {"x": nested(900)}
    result = asyncio.run(codeact.call_direct("echo", arguments))
    assert (result.ok, result.error_kind) == (False, "invalid")
    assert ARGUMENTS_TOO_DEEP in (result.error or "")
    assert result.record.outcome == "invalid" and ran == []
    line = json.loads(stream.getvalue())  # recorded, and the record is JSON
    assert line["outcome"] == "invalid"


def test_a_record_keeps_no_value_nested_deeper_than_the_limit() -> None:
    deep = {"x": nested(600)}
    kept = bounded_copy(deep)
    assert not too_deep(kept)
    assert bounded_copy(deep, parsed_from=len(json.dumps(deep))) is not deep
    shallow = {"x": nested(20)}
    assert bounded_copy(shallow, parsed_from=len(json.dumps(shallow))) is shallow


def test_an_http_request_nested_too_deep_is_malformed() -> None:
    egress = HttpEgress([])
    request = '{"method": "GET", "url": "http://x.test/", "headers": ' + deep_text(5000) + "}"
    ok, payload = egress.request(request, deadline=time.monotonic() + 5)
    assert not ok and "malformed" in json.loads(payload)["message"]


def test_a_session_state_request_nested_too_deep_is_refused() -> None:
    from codeact.policy.limits import Limits
    from codeact.sandbox.wasm.execution import WasmExecution

    execution = WasmExecution(None, Limits())  # type: ignore[arg-type]
    assert execution._state_piece(deep_text(5000)) == (False, "ask for [offset, length]")


def test_a_program_value_nested_too_deep_is_kept_as_a_note() -> None:
    report = json.dumps({"value": nested(MAX_JSON_DEPTH + 1), "has_value": True})
    outcome = RunOutcome.from_guest_json(report, max_chars=1 << 20)
    assert outcome.value is None
    assert outcome.value_repr == "<a value nested more than 200 levels deep>"


def test_the_guest_names_the_hosts_limit() -> None:
    """A program whose own Python cannot encode its arguments is told what the host says."""
    import codeact.sandbox.guest as guest

    source = (Path(guest.__file__).parent / "runtime" / "codeact_tools.py").read_text()
    assert f"\nMAX_ARGUMENT_LEVELS = {MAX_JSON_DEPTH}\n" in source


def test_a_schema_nested_too_deep_to_read_is_a_definition_error() -> None:
    spec: Any = {"type": "string"}
    for _ in range(5000):
        spec = {"type": "array", "items": spec}
    with pytest.raises(ToolDefinitionError, match="nested too deep"):
        Tool.from_schema("deep", {"type": "object", "properties": {"x": spec}}, lambda x: x)


def test_json_in_a_reply_is_looked_for_at_a_bounded_number_of_places(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reply of 300,000 braces blocked the agent's event loop for half a minute: every '{'
    was a failed decode that counted the lines before it."""
    import json

    from codeact import _nesting
    from codeact.chat.fallback import parse_text_tool_calls

    tried: list[int] = []
    real = _nesting.raw_decode_within

    def counting(decoder: json.JSONDecoder, text: str, start: int = 0, **kw: Any) -> Any:
        tried.append(start)
        return real(decoder, text, start, **kw)

    monkeypatch.setattr(_nesting, "raw_decode_within", counting)
    assert list(_nesting.embedded_json("{" * 100_000, json.JSONDecoder())) == []
    assert tried == []  # never a place a JSON object could start
    assert list(_nesting.embedded_json("[" * 100_000, json.JSONDecoder())) == []
    assert len(tried) == _nesting.MAX_EMBEDDED_ATTEMPTS
    call = 'text {"name": "execute_code", "arguments": {"code": "print(1)"}} more'
    assert [c.name for c in parse_text_tool_calls(call, ["execute_code"])] == ["execute_code"]
