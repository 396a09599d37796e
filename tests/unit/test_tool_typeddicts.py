"""Tools: a parameter typed with `typing.TypedDict` works on every Python the project supports
(pydantic takes only `typing_extensions.TypedDict` before 3.12)."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Optional, TypedDict

import pytest
from pydantic import Field

from codeact import tool
from codeact.tools import ToolArgumentsError


class Filter(TypedDict):
    """Which users to find."""

    region: str
    limit: Annotated[int, Field(ge=1)]


class Partial(TypedDict, total=False):
    note: str


class Line(TypedDict):
    sku: str
    qty: int


class Order(TypedDict):
    lines: list[Line]
    extra: Optional[dict[str, Line]]  # noqa: UP045 (typing.Optional, on purpose)
    partial: Partial


class Node(TypedDict):
    name: str
    children: list[Node]


def test_a_typing_typeddict_parameter_is_accepted_and_validated() -> None:
    @tool
    def find(f: Filter) -> list[str]:
        """Find users."""
        return [f["region"]] * f["limit"]

    assert find.signature == "find(f: Filter) -> list[str]"
    assert "class Filter(TypedDict):" in find.definitions["Filter"]
    defs = find.parameters["$defs"]["Filter"]
    assert defs["required"] == ["region", "limit"]
    assert defs["description"] == "Which users to find."
    assert find.validate({"f": {"region": "eu", "limit": 2}}) == {"f": {"region": "eu", "limit": 2}}
    with pytest.raises(ToolArgumentsError):
        find.validate({"f": {"region": "eu", "limit": 0}})
    with pytest.raises(ToolArgumentsError):
        find.validate({"f": {"region": "eu"}})


def test_nested_and_partial_typing_typeddicts() -> None:
    @tool
    def place(order: Order, backup: list[Order] | None = None) -> int:
        """Place an order."""
        return len(order["lines"])

    partial = place.parameters["$defs"]["Partial"]
    assert "required" not in partial
    args: dict[str, Any] = {
        "order": {"lines": [{"sku": "a", "qty": 1}], "extra": None, "partial": {}}
    }
    assert place.validate(args)["order"] == args["order"]
    bad: dict[str, Any] = {"order": {"lines": [{"sku": "a"}], "extra": None, "partial": {}}}
    with pytest.raises(ToolArgumentsError):
        place.validate(bad)


def test_a_recursive_typing_typeddict() -> None:
    @tool
    def walk(tree: Node) -> int:
        """Count nodes."""
        return 1

    tree = {"name": "a", "children": [{"name": "b", "children": []}]}
    assert walk.validate({"tree": tree}) == {"tree": tree}
    with pytest.raises(ToolArgumentsError):
        walk.validate({"tree": {"name": "a", "children": [{"name": "b"}]}})


def test_the_tool_runs_with_the_dict_it_was_given() -> None:
    from codeact import CodeAct

    @tool
    def find(f: Filter) -> list[str]:
        """Find users."""
        return [f["region"]] * f["limit"]

    result = CodeAct(tools=[find]).execute_sync('find({"region": "eu", "limit": 2})')
    assert result.ok, result.error
    assert result.value == ["eu", "eu"]


def test_the_original_annotation_is_kept() -> None:
    @tool
    def find(f: Filter) -> None:
        """Find users."""

    assert typing.get_type_hints(find.fn)["f"] is Filter
