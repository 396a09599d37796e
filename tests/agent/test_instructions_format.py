"""How tools are shown to the model inside the execute_code description."""

from __future__ import annotations

from typing_extensions import TypedDict

from codeact import CodeAct, tool
from codeact.runtime.instructions import describe_tools, dict_shape
from codeact.workloads import order_totals


class Row(TypedDict):
    sku: str
    units: int


@tool(approval_mode="always_require")
def restock(sku: str) -> list[Row]:
    """Order more of a product.

    Args:
        sku: The product's code.
    """
    return []


def test_tools_are_one_line_each_never_def_stubs() -> None:
    text = CodeAct(tools=order_totals.TOOLS).tool_description()
    assert "def " not in text and "class " not in text
    assert "- get_tax_rate(region: str) -> float: Get the tax rate of a region" in text
    assert '  User = {"id": int, "name": str, "region": str, "tier": str}' in text


def test_parameters_types_comments_and_approval_are_shown() -> None:
    text = describe_tools([restock])
    assert text.splitlines()[:3] == [
        "- restock(sku: str) -> list[Row]: Order more of a product.",
        "    sku: The product's code.",
        "    Each call waits for a person's approval; if refused it raises ToolDenied.",
    ]
    assert text.endswith('  Row = {"sku": str, "units": int}')


def test_field_comments_are_kept_and_unknown_shapes_shown_as_they_are() -> None:
    text = "class Line(TypedDict):\n    qty: int  # units ordered\n    price: float"
    assert dict_shape(text) == 'Line = {"qty": int, "price": float}  (qty: units ordered)'
    assert dict_shape("class Odd(TypedDict):\n    pass") == "class Odd(TypedDict):\n    pass"
