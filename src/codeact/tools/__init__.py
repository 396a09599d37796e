"""Tools: host functions described for a model (schemas, signatures, validation, results)."""

from __future__ import annotations

from .callables import is_dunder, taken_in_sandbox
from .definition import (
    SANDBOX_RESERVED_NAMES,
    ApprovalMode,
    Tool,
    ToolArgumentsError,
    as_tool,
    tool,
)
from .results import ResultConversionError, to_json_value
from .toolset import ToolSet

__all__ = [
    "SANDBOX_RESERVED_NAMES",
    "ApprovalMode",
    "ResultConversionError",
    "Tool",
    "ToolArgumentsError",
    "ToolSet",
    "as_tool",
    "is_dunder",
    "taken_in_sandbox",
    "to_json_value",
    "tool",
]
