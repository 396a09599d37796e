"""What a call's arguments may cost the host: parsed once, refused before parsing when their
shape would cost far more than their size, and bounded in all across a program's calls in
flight (the bound itself, on every backend, is in tests/escapes/test_argument_load_escapes.py).

A program's 4 MB of ``[[], [], ...]`` (under `Limits.tool_argument_bytes`) was parsed by the
host twice (once for the record, once by the validator), 0.5-2 s with the GIL held and about
110 MB per call; with call_tool_async, every call in flight kept its parse.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pydantic
import pytest
from typing_extensions import TypedDict

from codeact import Limits, Tool, tool
from codeact.calls.pipeline import ToolPipeline
from codeact.calls.program_context import ProgramContext
from codeact.calls.sizes import ARGUMENT_CONTAINERS, argument_size_error
from codeact.tools import ToolArgumentsError


# -- refused before parsing: more lists and objects than any call needs ---------------------
def test_arguments_with_too_many_lists_and_objects_are_refused_unparsed() -> None:
    assert ARGUMENT_CONTAINERS == 100_000
    under = json.dumps({"rows": [[]] * (ARGUMENT_CONTAINERS - 2)})  # with the two around it
    assert argument_size_error("f", under, 4 << 20) is None
    over = json.dumps({"rows": [{}] * (ARGUMENT_CONTAINERS - 1)})
    message = argument_size_error("f", over, 4 << 20)
    assert message is not None and "\n" not in message
    assert message.startswith("the arguments of f() hold more than 100,000 lists and objects")
    assert "Limits.tool_argument_bytes" not in message  # not a size: the shape


def test_brackets_inside_strings_are_not_lists() -> None:
    text = json.dumps({"code": "[{" * 200_000, "more": ["x]", "[y"] * 1000})
    assert argument_size_error("f", text, 4 << 20) is None
    # Brackets escaped inside strings (\" and \\ before them) are read as JSON reads them.
    tricky = json.dumps({"s": '\\"[' * 60_000, "t": '"{\\' * 60_000})
    assert argument_size_error("f", tricky, 4 << 20) is None
    hidden = '{"s": "\\\\"' + ", []" * 100_001 + "}"  # the string ends: the lists are real
    assert argument_size_error("f", hidden, 4 << 20) is not None


def test_many_strings_holding_brackets_are_counted_as_written() -> None:
    """Finding the strings costs a pass per string: past `ARGUMENT_CONTAINERS` strings the
    brackets are counted wherever they are (the refusal says so), not searched for."""
    text = json.dumps({"v": ["["] * 150_000})
    message = argument_size_error("f", text, 4 << 20)
    assert message is not None and "inside strings" in message


# -- parsed once -------------------------------------------------------------------------
@tool
def count_rows(rows: list[Any], label: str = "") -> int:
    """Count rows."""
    return len(rows)


def _schema_tool() -> Tool:
    return Tool.from_schema(
        "count_rows",
        {"type": "object", "properties": {"rows": {"type": "array"}}, "required": ["rows"]},
        lambda rows: len(rows),
    )


async def test_a_function_tools_arguments_are_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = count_rows._schema.model  # type: ignore[union-attr]

    def second_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the arguments were parsed again")

    monkeypatch.setattr(model, "model_validate_json", second_parse)
    text = json.dumps({"rows": [[1], [2], {"a": None}], "label": "x"})
    result = await ToolPipeline().call_direct(count_rows, text)
    assert result.ok and result.value == 3, result.error
    assert result.record.arguments == json.loads(text)


async def test_a_schema_tools_arguments_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import codeact.tools.definition as definition

    def second_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the arguments were parsed again")

    monkeypatch.setattr(definition, "loads_within", second_parse)
    result = await ToolPipeline().call_direct(_schema_tool(), '{"rows": [1, [2]]}')
    assert result.ok and result.value == 2, result.error


async def test_the_record_never_holds_what_the_tool_received() -> None:
    """Parsed once, the arguments' lists reach the tool: a tool that changes them must not
    change its record (what the audit and the approver saw), nor a redactor that changes
    what it is given in place what the tool receives."""

    @tool
    def consume(rows: list[Any], opts: dict[str, Any], anything: Any = None) -> int:
        """Changes what it is given, as some tools do."""
        rows[0].append("tool")
        rows.append("tool")
        opts["inner"]["k"] = "tool"
        anything["k"] = "tool"
        return 1

    text = '{"rows": [[1]], "opts": {"inner": {"k": 1}}, "anything": {"k": 1}}'
    result = await ToolPipeline().call_direct(consume, text)
    assert result.ok, result.error
    assert result.record.arguments == json.loads(text)

    def in_place(name: str, arguments: Any) -> Any:
        arguments["opts"]["inner"]["k"] = "[hidden]"
        return arguments

    seen: list[Any] = []

    @tool
    def look(rows: list[Any], opts: dict[str, Any]) -> int:
        """Looks."""
        seen.append(opts["inner"]["k"])
        return 1

    result = await ToolPipeline(redact=in_place).call_direct(
        look, text.replace(', "anything": {"k": 1}', "")
    )
    assert result.ok, result.error
    assert seen == [1] and result.record.arguments["opts"]["inner"]["k"] == "[hidden]"


class Color(enum.Enum):
    RED = "red"


class Point(TypedDict):
    x: int
    y: float


class Model(pydantic.BaseModel):
    a: int
    tags: list[str] = []


@dataclasses.dataclass
class Box:
    width: float


TYPES: list[Any] = [
    int, float, str, bool, Any, list, dict, list[int], dict[str, int], dict[int, str],
    tuple[int, ...], tuple[int, str], set[int], frozenset[str], Literal["red", 1], Color, Point,
    Model, Box, int | None, int | str, int | float, Model | dict,
    set[int] | Any, datetime.date | str, bytes | str, datetime.datetime,
    datetime.timedelta, decimal.Decimal, bytes, list[Model], Annotated[int, pydantic.Field(ge=3)],
    Annotated[str, pydantic.Field(max_length=2)], Annotated[int, pydantic.Strict()],
    Annotated[datetime.date, pydantic.Strict()], Annotated[list[int], pydantic.Field(min_length=2)],
    None, Color | str, tuple[int, ...] | list[str],
]  # fmt: skip
VALUES = [
    "1", "1.0", "1.5", '"1"', "true", "false", '"true"', "null", '"red"', "[1, 2]", '[1, "a"]',
    "[]", "{}", '{"a": 1}', '{"a": "1", "tags": ["x"]}', '{"x": 1, "y": 2}', '{"width": 2}',
    '"2020-01-01"', '"P1D"', "0.1000000000000000055511151231257827", "1E2", "1e400", "NaN",
    "12345678901234567890123", '"\\u00e9"', '"\\ud83d\\ude00"', '"\\ud800"', '"a\\ud800b"',
    '"\\udc00\\ud800"', "[[1]]", '{"a": 1, "a": "x"}', '"ab\\"c"', '{"1": "x"}',
    '{"width": 1, "width": "2"}', '{"x": 1, "y": 2.5, "x": "3"}', '[1, 2, 1]',
]  # fmt: skip


def _outcome(fn: Any) -> tuple[str, str]:
    try:
        return "ok", repr(fn())
    except ToolArgumentsError as exc:
        return "invalid", str(exc)


@pytest.mark.parametrize("annotation", TYPES, ids=repr)
def test_validating_the_parse_is_validating_the_text(annotation: Any) -> None:
    """Whatever the parameter's type, a function tool given the parse of its arguments
    returns what it returns for the text itself, or fails with the same message (pydantic
    validates some types differently from Python values: those are validated from the text)."""

    def f(x: Any) -> None:
        """F."""

    f.__annotations__["x"] = annotation
    made = tool(f)
    texts = [f'{{"x": {v}}}' for v in VALUES] + ['{"y": 1}', "{}", "[1]", '{"x": 1, "z": 2}']
    texts += ['{"x": 1, "x": "a"}', '{"x": "a", "x": 1}', '{"x": null, "x": [1]}']
    for text in texts:
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        expected = _outcome(lambda t=text: made.validate_json(t))
        assert _outcome(lambda t=text, p=parsed: made.validate_parsed(t, p)) == expected, text


def test_the_common_parameter_types_are_validated_from_the_parse() -> None:
    """Else the arguments are parsed twice again (correct, but what this file is about)."""
    alike: list[Any] = [
        int, float, str, bool, Any, list, dict[str, Any], list[dict[str, int]], str | None,
        int | str | None, Literal["a", "b"], Color, Point, Model, Box, list[Model],
        tuple[int, int], set[str], Annotated[int, pydantic.Field(ge=0, description="n")],
    ]  # fmt: skip
    for annotation in alike:

        def f(x: Any) -> None:
            """F."""

        f.__annotations__["x"] = annotation
        assert tool(f)._schema.validates_parse, annotation


def test_arguments_nested_too_deep_read_the_same_from_the_parse() -> None:
    for depth in (198, 199, 200, 201, 250):
        text = '{"x": ' + "[" * depth + "]" * depth + "}"
        for made in (_deep_function_tool(), _deep_schema_tool()):
            expected = _outcome(lambda t=text, m=made: m.validate_json(t))
            parsed = json.loads(text)
            got = _outcome(lambda t=text, p=parsed, m=made: m.validate_parsed(t, p))
            assert got == expected, (depth, made)


def _deep_function_tool() -> Tool:
    @tool
    def echo(x: Any = None) -> None:
        """Echo."""

    return echo


def _deep_schema_tool() -> Tool:
    return Tool.from_schema("echo", {"type": "object", "properties": {"x": {}}}, lambda **k: k)


# -- invalid: what the message of a call with many wrong values costs -----------------------
@pytest.mark.parametrize("make", ["function", "schema"])
def test_a_call_with_very_many_wrong_values_is_described_without_listing_them(make: str) -> None:
    """4.5 MB of ``["a", "a", ...]`` for a ``list[int]``: each of its 900,000 items is a problem.
    Listed one by one (pydantic's ``errors()``, then a line each), they took 7 s and 1 GB of
    the host for one call: past `MAX_LISTED_PROBLEMS`, the message counts them instead."""
    from codeact.tools.problems import MAX_LISTED_PROBLEMS

    if make == "function":

        @tool
        def total(values: list[int]) -> int:
            """Adds."""
            return sum(values)

        made: Tool = total
    else:
        schema = {
            "type": "object",
            "properties": {"values": {"type": "array", "items": {"type": "integer"}}},
        }
        made = Tool.from_schema("total", schema, lambda values: sum(values))
    few = json.dumps({"values": [1, "a", 2, "b"]})
    with pytest.raises(ToolArgumentsError) as info:
        made.validate_json(few)
    assert "values[1]" in str(info.value) and "values[3]" in str(info.value)
    many = json.dumps({"values": ["a"] * 5000})
    attempts: list[Callable[[], Any]] = [
        lambda: made.validate_json(many),
        lambda: made.validate_parsed(many, json.loads(many)),
    ]
    for attempt in attempts:
        with pytest.raises(ToolArgumentsError) as info:
            attempt()
        message = str(info.value)
        assert len(message) < 4000 and message.count("'values[") == MAX_LISTED_PROBLEMS, message
        assert "'values[0]'" in message  # the first few, and how many in all
        assert f"more than {MAX_LISTED_PROBLEMS} problems" in message or "5,000 problems" in message


# -- in flight: the bytes of arguments a program's unfinished calls hold ---------------------
def test_a_programs_calls_in_flight_hold_at_most_four_times_the_argument_limit() -> None:
    program = ProgramContext("")
    program.limit_arguments(Limits(tool_argument_bytes=1000))
    pipeline = ToolPipeline()
    records = []
    for i in range(4):
        record, _ = pipeline.record("count_rows", "x" * 900, started_ms=0)
        assert program.hold_arguments(record, 900) is None, i
        records.append(record)
    record, _ = pipeline.record("count_rows", "x" * 900, started_ms=0)
    refusal = program.hold_arguments(record, 900)
    assert refusal is not None and "Limits.tool_argument_bytes" in refusal
    assert "4,000 bytes" in refusal and "\n" not in refusal
    assert program.arguments_held == 3600
    assert program.settle_once(records[0])  # a call ends: its arguments are let go
    assert program.arguments_held == 2700
    assert program.hold_arguments(record, 900) is None
    assert not program.settle_once(records[0])
    assert program.arguments_held == 3600
