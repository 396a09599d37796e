"""Tools known only by a JSON schema: signatures for the prompt, validation by the schema."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import Tool, ToolDefinitionError
from codeact.tools import ToolArgumentsError

SEARCH = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to look for"},
        "limit": {"type": "integer", "default": 10, "minimum": 1},
        "sort": {"enum": ["date", "score"]},
        "filters": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "value": {"type": ["string", "number"]},
                },
                "required": ["field"],
            },
        },
        "owner": {"$ref": "#/$defs/Owner"},
        "max-age": {"type": "integer"},
    },
    "required": ["query"],
    "additionalProperties": False,
    "$defs": {"Owner": {"type": "object", "properties": {"login": {"type": "string"}}}},
}
HIT = {
    "type": "array",
    "items": {
        "title": "Hit",
        "type": "object",
        "properties": {"url": {"type": "string"}, "score": {"type": "number"}},
        "required": ["url", "score"],
    },
}


def search_tool(**options: Any) -> Tool:
    return Tool.from_schema("search", SEARCH, lambda **kw: kw, returns=HIT, **options)


def test_signature_is_rendered_from_the_schema() -> None:
    tool = search_tool(description="Search the index.")
    assert tool.signature == (
        "search(query: str, limit: int = 10, sort: Literal['date', 'score'] | None = None, "
        "filters: list[Filter] | None = None, owner: Owner | None = None, **kwargs: Any) "
        "-> list[Hit]"
    )
    assert tool.definitions == {
        "Filter": "class Filter(TypedDict):\n    field: str\n    value: NotRequired[str | float]",
        "Owner": "class Owner(TypedDict, total=False):\n    login: str",
        "Hit": "class Hit(TypedDict):\n    url: str\n    score: float",
    }
    assert tool.description == "Search the index."
    # Required first; "max-age" is not a Python name, so it can only be passed by keyword.
    assert tool.positional_params == ("query", "limit", "sort", "filters", "owner")
    assert tool.param_names[-1] == "max-age"
    assert tool.parameters["properties"]["query"]["description"] == "What to look for"


def test_valid_arguments_pass_and_an_optional_none_counts_as_left_out() -> None:
    tool = search_tool()
    assert tool.validate_json('{"query": "x", "limit": 3, "sort": null}') == {
        "query": "x",
        "limit": 3,
    }
    assert tool.validate({"query": "x", "max-age": 5}) == {"query": "x", "max-age": 5}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('{"limit": 3}', "missing required argument 'query'"),
        ('{"query": 1}', "argument 'query': 1 is not of type 'string'"),
        ('{"query": "x", "limit": 0}', "argument 'limit': 0 is less than the minimum of 1"),
        ('{"query": "x", "colour": "red"}', "unexpected argument 'colour'"),
        ('{"query": "x", "filters": [{"value": 1}]}', "argument 'filters[0]': 'field' is a"),
        ("[1, 2]", "arguments must be given as keyword arguments"),
        ("{not json", "arguments are not valid JSON"),
    ],
)
def test_invalid_arguments_are_explained(arguments: str, message: str) -> None:
    with pytest.raises(ToolArgumentsError) as caught:
        search_tool().validate_json(arguments)
    assert message in str(caught.value)
    assert str(caught.value).startswith("invalid arguments for search(): ")


def test_the_function_may_be_async_and_options_are_kept() -> None:
    async def call(**kwargs: Any) -> Any:
        return kwargs

    tool = Tool.from_schema(
        "fetch", {"type": "object"}, call, approval_mode="always_require", timeout=5
    )
    assert tool.is_async and tool.approval_mode == "always_require" and tool.timeout == 5.0
    assert tool.signature == "fetch()"
    assert tool.validate({}) == {}


@pytest.mark.parametrize(
    ("name", "schema", "message"),
    [
        ("ok", {"type": "array"}, "must be a JSON schema of type 'object'"),
        ("ok", {"type": "object", "properties": {"a": {"type": "strin"}}}, "not a valid JSON"),
        ("bad-name", {"type": "object"}, "not a Python identifier"),
        ("len", {"type": "object"}, "already taken inside the sandbox"),
        ("ok", ["not", "a", "schema"], "must be a JSON schema (a dict)"),
    ],
)
def test_schemas_and_names_that_cannot_work_fail_at_definition(
    name: str, schema: Any, message: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Tool.from_schema(name, schema, lambda **kw: kw)


def test_recursive_and_repeated_object_schemas_give_one_class_each() -> None:
    node: dict[str, Any] = {
        "title": "Node",
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"$ref": "#/$defs/Node"}},
    }
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}, "other": {"$ref": "#/$defs/Node"}},
        "required": ["root", "other"],
        "$defs": {
            "Node": {
                **node,
                "properties": {
                    **node["properties"],
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
    }
    tool = Tool.from_schema("walk", schema, lambda **kw: kw)
    assert tool.signature == "walk(root: Node, other: Node)"
    assert list(tool.definitions) == ["Node"]
    assert "children: list[Node]" in tool.definitions["Node"]
