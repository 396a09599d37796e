"""codeact: one `execute_code` tool, a fresh isolated CPython per call, tools on the host.

>>> from codeact import CodeAct, Limits, tool
"""

from __future__ import annotations

from .bridge.protocol import OutputFile, ToolCallRecord
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
from .policy.mounts import Mount
from .policy.network import AllowedDomain, NetworkLimits
from .policy.outputs import OutputLimits
from .runtime import CodeAct, ExecuteCodeTool, ExecutionError, ExecutionResult
from .sandbox import MockBackend, SandboxBackend
from .tools import Tool, ToolSet, tool

__version__ = "0.1.0"

__all__ = [
    "AllowedDomain",
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
    "Mount",
    "NetworkLimits",
    "OutputFile",
    "OutputLimits",
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
