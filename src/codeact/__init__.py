"""codeact: one `execute_code` tool, a fresh isolated CPython per call, tools on the host.

>>> from codeact import Agent, CodeAct, Limits, tool
"""

from __future__ import annotations

import warnings as _warnings
from typing import Any as _Any

from .agent import Agent, AgentResult, AgentTimings, AgentUsage
from .bridge.protocol import OutputFile, ToolCallRecord
from .calls.approval_handlers import ApproveAll, DeferredApprovals, DenyAll, InteractiveApprover
from .calls.approvals import Approval, ApprovalRequest
from .calls.audit import JsonlAudit, Redact
from .calls.call import CallDenied, ToolInvocation
from .calls.middleware import LogCalls, Middleware, RateLimit
from .errors import (
    AgentError,
    BackendUnavailable,
    ChatError,
    CodeActError,
    ConfigurationError,
    GuestBuildError,
    IntegrationError,
    ModelNotConfigured,
    OutputValidationError,
    SandboxError,
    ToolDefinitionError,
    TurnLimitExceeded,
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
    "Agent",
    "AgentError",
    "AgentResult",
    "AgentTimings",
    "AgentUsage",
    "AllowedDomain",
    "Approval",
    "ApprovalRequest",
    "ApproveAll",
    "BackendUnavailable",
    "CallDenied",
    "ChatError",
    "CodeAct",
    "CodeActError",
    "ConfigurationError",
    "DeferredApprovals",
    "DenyAll",
    "ExecuteCodeTool",
    "ExecutionError",
    "ExecutionResult",
    "GuestBuildError",
    "IntegrationError",
    "InteractiveApprover",
    "JsonlAudit",
    "Limits",
    "LogCalls",
    "Middleware",
    "MockBackend",
    "ModelNotConfigured",
    "Mount",
    "NetworkLimits",
    "OutputFile",
    "OutputLimits",
    "OutputValidationError",
    "RateLimit",
    "Redact",
    "SandboxBackend",
    "SandboxError",
    "Tool",
    "ToolCallRecord",
    "ToolDefinitionError",
    "ToolInvocation",
    "ToolSet",
    "TurnLimitExceeded",
    "UserError",
    "__version__",
    "tool",
]


def __getattr__(name: str) -> _Any:
    # Deprecated names, still importable: each warns once where it is used.
    if name == "ToolCall":
        _warnings.warn(
            "codeact.ToolCall is now codeact.ToolInvocation (a call on its way through the "
            "middleware chain; codeact.chat.ToolCall is a model's request)",
            DeprecationWarning,
            stacklevel=2,
        )
        return ToolInvocation
    raise AttributeError(f"module 'codeact' has no attribute {name!r}")
