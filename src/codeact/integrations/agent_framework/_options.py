"""Options of the Agent Framework provider: their types, defaults and checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

from agent_framework import FunctionTool, normalize_tools

from ...errors import ConfigurationError
from ...runtime.instructions import EXECUTE_CODE_PARAMETERS
from ...tools import Tool

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_MAX_OUTPUT_FILES",
    "DEFAULT_MAX_OUTPUT_FILE_BYTES",
    "DEFAULT_MAX_OUTPUT_TOTAL_BYTES",
    "REFERENCE_GUEST_MODULE",
    "REFERENCE_PARAMETERS",
    "ApprovalMode",
    "ToolDescriptionFormat",
    "ToolsInput",
    "framework_tools",
    "normalize_format",
    "positive",
]

ApprovalMode: TypeAlias = Literal["always_require", "never_require"]
ToolDescriptionFormat: TypeAlias = (
    Literal["compact", "json"] | Mapping[str, Literal["compact", "json"]]
)
ToolsInput: TypeAlias = (
    FunctionTool | Callable[..., Any] | Tool | Sequence[FunctionTool | Callable[..., Any] | Tool]
)

# The reference's defaults for files written under /output.
DEFAULT_MAX_OUTPUT_FILES = 20
DEFAULT_MAX_OUTPUT_FILE_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_OUTPUT_TOTAL_BYTES = 20 * 1024 * 1024
REFERENCE_GUEST_MODULE = "python_guest.path"
# The reference's default backend name; codeact's wasm backend has the same name.
DEFAULT_BACKEND = "wasm"

#: The reference's schema for `code` (``result_format="reference"``), which promises no value
#: of the last line; ``"codeact"`` uses codeact's own (`EXECUTE_CODE_PARAMETERS`).
REFERENCE_PARAMETERS: dict[str, Any] = {
    **EXECUTE_CODE_PARAMETERS,
    "properties": {
        "code": {
            "type": "string",
            "description": "A complete Python program. Print what you need to see; the value "
            "of the last line is not returned.",
        }
    },
}


def framework_tools(tools: Any) -> list[FunctionTool]:
    """Framework tools from the inputs the reference accepts, plus codeact `Tool`s."""
    items = list(tools) if isinstance(tools, Sequence) and not isinstance(tools, str) else [tools]
    result: list[FunctionTool] = []
    for item in items:
        if isinstance(item, Tool):
            result.append(
                FunctionTool(
                    name=item.name,
                    description=item.description,
                    approval_mode=item.approval_mode,
                    func=item.fn,
                    input_model=item.parameters,
                )
            )
            continue
        for tool in normalize_tools(item):
            if not isinstance(tool, FunctionTool):
                raise ConfigurationError(
                    f"{tool!r} is not a function tool; only function tools can be called from "
                    "the sandbox (hosted tools and MCP tool groups stay direct agent tools)"
                )
            if tool.name != "execute_code":
                result.append(tool)
    return result


def normalize_format(value: Any) -> Literal["compact", "json"] | dict[str, Any]:
    if isinstance(value, str):
        if value not in ("compact", "json"):
            raise ConfigurationError(
                f"tool_description_format must be 'compact' or 'json', got {value!r}"
            )
        return value  # type: ignore[return-value]
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "tool_description_format must be 'compact', 'json' or a mapping of tool names "
            f"to those, got {type(value).__name__}"
        )
    for name, choice in value.items():
        if not isinstance(name, str) or choice not in ("compact", "json"):
            raise ConfigurationError(
                f"tool_description_format[{name!r}] must be 'compact' or 'json', got {choice!r}"
            )
    return dict(value)


def positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
    return value
