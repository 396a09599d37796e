"""codeact: one `execute_code` tool, a fresh isolated CPython per call, tools on the host.

>>> from codeact import CodeAct, Limits, tool
"""

from __future__ import annotations

from .bridge.protocol import ToolCallRecord
from .errors import (
    BackendUnavailable,
    ChatError,
    CodeActError,
    ConfigurationError,
    GuestBuildError,
    IntegrationError,
    ModelNotConfigured,
    SandboxError,
    ToolDefinitionError,
    UserError,
)
from .policy.limits import Limits
from .runtime import CodeAct, ExecuteCodeTool, ExecutionError, ExecutionResult
from .sandbox import MockBackend, SandboxBackend
from .tools import Tool, ToolSet, tool

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "ChatError",
    "CodeAct",
    "CodeActError",
    "ConfigurationError",
    "ExecuteCodeTool",
    "ExecutionError",
    "ExecutionResult",
    "GuestBuildError",
    "IntegrationError",
    "Limits",
    "MockBackend",
    "ModelNotConfigured",
    "SandboxBackend",
    "SandboxError",
    "Tool",
    "ToolCallRecord",
    "ToolDefinitionError",
    "ToolSet",
    "UserError",
    "__version__",
    "tool",
]
