"""codeact: one `execute_code` tool, a fresh isolated CPython per call, tools on the host.

>>> from codeact import Agent, CodeAct, Limits, tool
"""

from __future__ import annotations

from .agent import Agent, AgentResult, AgentTimings, AgentUsage
from .bridge.approval_handlers import ApproveAll, DeferredApprovals, DenyAll, InteractiveApprover
from .bridge.approvals import Approval, ApprovalRequest
from .bridge.audit import JsonlAudit, Redact
from .bridge.calls import CallDenied, ToolCall
from .bridge.middleware import LogCalls, Middleware, RateLimit
from .bridge.protocol import OutputFile, ToolCallRecord
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
from .policy.packages import PackageGrant
from .runtime import CodeAct, ExecuteCodeTool, ExecutionError, ExecutionResult
from .sandbox import MockBackend, SandboxBackend
from .sandbox.packages import resolve_packages
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
    "PackageGrant",
    "RateLimit",
    "Redact",
    "SandboxBackend",
    "SandboxError",
    "Tool",
    "ToolCall",
    "ToolCallRecord",
    "ToolDefinitionError",
    "ToolSet",
    "TurnLimitExceeded",
    "UserError",
    "__version__",
    "resolve_packages",
    "tool",
]
