"""What a program and its model are told of an OpenAI Agents `FunctionTool`: its arguments as
the function takes them (defaults kept) and, where the SDK knows it, the shape of its result.

The SDK's ``params_json_schema`` is its *strict* schema, made for the model's direct calls: it
lists every argument as required (``search(query, limit=10)`` requires ``limit``) and drops
defaults of ``None``. The function itself, and the SDK's own call of it, fill the defaults in,
so a program may leave those arguments out: it is checked against the non-strict view of the
same function (`parameters`). The result's schema is the SDK's ``output_json_schema`` (a tool's
declared ``output_type``) or the function's return annotation (`returns`).
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from typing import Any

from agents import FunctionTool
from agents.function_schema import function_schema
from agents.strict_schema import ensure_strict_json_schema
from pydantic import TypeAdapter

from ..errors import ToolDefinitionError
from ..tools import Tool
from ..tools.typeddicts import pydantic_annotation

__all__ = ["parameters", "returns"]

# The ways `function_tool` reads a docstring: the non-strict view must be read the same way.
_READINGS: tuple[dict[str, Any], ...] = (
    {},
    {"use_docstring_info": False},
    {"docstring_style": "google"},
    {"docstring_style": "numpy"},
    {"docstring_style": "sphinx"},
)


def parameters(item: FunctionTool) -> dict[str, Any]:
    """The schema of `item`'s arguments that a program's calls are checked against and the
    model is shown: the non-strict one, where the SDK's strict schema can be traced back to
    the function; otherwise the tool's own."""
    strict = item.params_json_schema
    function = _function(item)
    if not item.strict_json_schema or function is None:
        return strict
    for reading in _READINGS:
        try:
            loose = function_schema(
                function, name_override=item.name, strict_json_schema=False, **reading
            ).params_json_schema
        except Exception:  # a function the SDK read once may still refuse another reading
            continue
        # Only the same schema, made strict, is the tool's: never loosen one that differs (a
        # tool whose schema was edited after function_tool made it).
        if ensure_strict_json_schema(copy.deepcopy(loose)) == strict:
            return loose
    return strict


def returns(item: FunctionTool) -> dict[str, Any] | None:
    """The JSON schema of what `item` returns, where the SDK knows it: its declared output
    (``output_type=`` / ``output_json_schema=``) or its function's return annotation."""
    schema = item.output_json_schema
    if schema is None:
        schema = _annotation_schema(_function(item))
    if schema is None:
        return None
    try:  # shown only if codeact can render it: never refuse a tool for its result's schema
        Tool.from_schema("result", {"type": "object"}, _nothing, returns=schema)
    except ToolDefinitionError:
        return None
    return schema


def _function(item: FunctionTool) -> Callable[..., Any] | None:
    """The function `function_tool` made `item` of (None for a tool built otherwise)."""
    try:
        function = item.__wrapped__
    except AttributeError:
        return None
    return function if callable(function) else None


def _annotation_schema(function: Callable[..., Any] | None) -> dict[str, Any] | None:
    if function is None:
        return None
    try:
        annotation = typing.get_type_hints(function, include_extras=True).get("return")
        if annotation is None or annotation is Any:
            return None
        schema: dict[str, Any] = TypeAdapter(pydantic_annotation(annotation)).json_schema(
            mode="serialization"
        )
    except Exception:  # a type pydantic cannot describe: the model is not told, as before
        return None
    return schema


def _nothing() -> None:
    return None
