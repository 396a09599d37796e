"""codeact: one `execute_code` tool, a fresh isolated CPython per call, tools on the host.

>>> from codeact import Agent, CodeAct, Limits, tool
"""

from __future__ import annotations

from .agent import Agent, AgentResult, AgentTimings, AgentUsage, ApprovalRequest
from .bridge.protocol import ToolCallRecord
from .errors import (
    AgentError,
    BackendUnavailable,
    ChatError,
    CodeActError,
    ConfigurationError,
    GuestBuildError,
    ModelNotConfigured,
    OutputValidationError,
    SandboxError,
    ToolDefinitionError,
    TurnLimitExceeded,
    UserError,
)
from .policy.limits import Limits
from .runtime import CodeAct, ExecuteCodeTool, ExecutionError, ExecutionResult
from .sandbox import MockBackend, SandboxBackend
from .tools import Tool, ToolSet, tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentError",
    "AgentResult",
    "AgentTimings",
    "AgentUsage",
    "ApprovalRequest",
    "BackendUnavailable",
    "ChatError",
    "CodeAct",
    "CodeActError",
    "ConfigurationError",
    "ExecuteCodeTool",
    "ExecutionError",
    "ExecutionResult",
    "GuestBuildError",
    "Limits",
    "MockBackend",
    "ModelNotConfigured",
    "OutputValidationError",
    "SandboxBackend",
    "SandboxError",
    "Tool",
    "ToolCallRecord",
    "ToolDefinitionError",
    "ToolSet",
    "TurnLimitExceeded",
    "UserError",
    "__version__",
    "tool",
]
