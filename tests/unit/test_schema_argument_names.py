"""A tool described by a JSON schema takes only the arguments its schema declares.

Frameworks leave out of a tool's schema the parameters they fill themselves (LangChain's
InjectedToolArg and InjectedState, a Pydantic AI RunContext, a FastMCP Context): a program
must not be able to pass them. So a name the schema does not declare is refused, unless the
schema says other names are welcome (``additionalProperties`` true or a schema)."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import Tool
from codeact.tools import ToolArgumentsError


def made(schema: dict[str, Any]) -> Tool:
    return Tool.from_schema("invoices", schema, lambda **kw: kw)


YEAR: dict[str, Any] = {
    "type": "object",
    "properties": {"year": {"type": "integer"}},
    "required": ["year"],
}


def refused(tool: Tool, arguments: dict[str, Any]) -> str:
    with pytest.raises(ToolArgumentsError) as caught:
        tool.validate(arguments)
    return str(caught.value)


def test_a_name_the_schema_does_not_declare_is_refused_naming_what_it_takes() -> None:
    tool = made(YEAR)
    assert tool.validate({"year": 2025}) == {"year": 2025}
    assert refused(tool, {"year": 2025, "user_id": "ceo"}) == (
        "invalid arguments for invoices(): unexpected argument 'user_id'. It takes: year"
    )
    with pytest.raises(ToolArgumentsError, match="unexpected argument 'state'"):
        tool.validate_json('{"year": 2025, "state": {"account_id": "x"}}')


def test_every_unknown_name_is_named_once_beside_other_problems() -> None:
    message = refused(made(YEAR), {"a": 1, "b": 2})
    assert message.count("unexpected argument 'a', unexpected argument 'b'") == 1
    assert "missing required argument 'year'" in message
    closed = made({**YEAR, "additionalProperties": False})
    assert refused(closed, {"year": 1, "a": 1}).count("unexpected argument 'a'") == 1


def test_a_schema_without_properties_takes_no_arguments() -> None:
    tool = made({"type": "object"})
    assert tool.validate({}) == {}
    assert "unexpected argument 'x'. It takes: no arguments" in refused(tool, {"x": 1})


@pytest.mark.parametrize(
    "extra", [True, {}, {"type": "string"}], ids=["true", "any-schema", "a-schema"]
)
def test_a_schema_that_welcomes_other_names_gets_them(extra: Any) -> None:
    tool = made({**YEAR, "additionalProperties": extra})
    assert tool.validate({"year": 1, "note": "x"}) == {"year": 1, "note": "x"}


def test_a_schema_for_other_names_still_checks_their_values() -> None:
    tool = made({**YEAR, "additionalProperties": {"type": "string"}})
    assert "argument 'note': 5 is not of type 'string'" in refused(tool, {"year": 1, "note": 5})


def test_names_matching_pattern_properties_are_declared() -> None:
    tool = made({**YEAR, "patternProperties": {"^x_": {"type": "integer"}}})
    assert tool.validate({"year": 1, "x_a": 2}) == {"year": 1, "x_a": 2}
    assert "unexpected argument 'y_a'" in refused(tool, {"year": 1, "y_a": 2})


def test_names_declared_by_combined_schemas_at_the_top_are_declared() -> None:
    tool = made(
        {
            "type": "object",
            "allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"limit": {"type": "integer"}}}],
            "anyOf": [{"properties": {"q": {}}}, {"properties": {"id": {}}}],
            "$defs": {"Base": {"properties": {"year": {"type": "integer"}}}},
        }
    )
    assert tool.validate({"year": 1, "limit": 2, "q": "x", "id": 3}) == {
        "year": 1,
        "limit": 2,
        "q": "x",
        "id": 3,
    }
    assert "unexpected argument 'user_id'" in refused(tool, {"year": 1, "user_id": "x"})
    opened = made({"type": "object", "allOf": [{"additionalProperties": True}]})
    assert opened.validate({"any": 1}) == {"any": 1}


def test_a_declared_optional_argument_given_as_none_still_counts_as_left_out() -> None:
    tool = made({**YEAR, "properties": {**YEAR["properties"], "limit": {"type": "integer"}}})
    assert tool.validate({"year": 1, "limit": None}) == {"year": 1}
