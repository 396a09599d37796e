"""codeact: one `execute_code` tool, a fresh isolated CPython per call, tools on the host.

>>> from codeact import Agent, CodeAct, Limits, tool
"""

from __future__ import annotations

import importlib as _importlib
import importlib.util as _importlib_util
import warnings as _warnings

TYPE_CHECKING = False  # not typing's: importing typing alone takes longer than the rest
if TYPE_CHECKING:
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
        SessionStateError,
        ToolDefinitionError,
        TurnLimitExceeded,
        UserError,
    )
    from .policy.limits import Limits
    from .policy.mounts import Mount
    from .policy.network import AllowedDomain, NetworkLimits
    from .policy.outputs import OutputLimits
    from .policy.packages import PackageGrant
    from .runtime import (
        CodeAct,
        ExecuteCodeTool,
        ExecutionError,
        ExecutionResult,
        Session,
        SessionReport,
    )
    from .sandbox import MockBackend, SandboxBackend
    from .sandbox.packages import resolve_packages
    from .tools import Tool, ToolSet, tool
del TYPE_CHECKING

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
    "Session",
    "SessionReport",
    "SessionStateError",
    "Tool",
    "ToolCallRecord",
    "ToolDefinitionError",
    "ToolInvocation",
    "ToolSet",
    "TurnLimitExceeded",
    "UserError",
    "__version__",
    "resolve_packages",
    "tool",
]


#: Where each exported name is defined: imported on first use (PEP 562), so that `import
#: codeact` is quick and imports nothing heavy; the command line relies on it to answer a
#: Ctrl-C from its very start (see `codeact._entry`).
_WHERE: dict[str, str] = {
    "Agent": "codeact.agent",
    "AgentError": "codeact.errors",
    "AgentResult": "codeact.agent",
    "AgentTimings": "codeact.agent",
    "AgentUsage": "codeact.agent",
    "AllowedDomain": "codeact.policy.network",
    "Approval": "codeact.calls.approvals",
    "ApprovalRequest": "codeact.calls.approvals",
    "ApproveAll": "codeact.calls.approval_handlers",
    "BackendUnavailable": "codeact.errors",
    "CallDenied": "codeact.calls.call",
    "ChatError": "codeact.errors",
    "CodeAct": "codeact.runtime",
    "CodeActError": "codeact.errors",
    "ConfigurationError": "codeact.errors",
    "DeferredApprovals": "codeact.calls.approval_handlers",
    "DenyAll": "codeact.calls.approval_handlers",
    "ExecuteCodeTool": "codeact.runtime",
    "ExecutionError": "codeact.runtime",
    "ExecutionResult": "codeact.runtime",
    "GuestBuildError": "codeact.errors",
    "IntegrationError": "codeact.errors",
    "InteractiveApprover": "codeact.calls.approval_handlers",
    "JsonlAudit": "codeact.calls.audit",
    "Limits": "codeact.policy.limits",
    "LogCalls": "codeact.calls.middleware",
    "Middleware": "codeact.calls.middleware",
    "MockBackend": "codeact.sandbox",
    "ModelNotConfigured": "codeact.errors",
    "Mount": "codeact.policy.mounts",
    "NetworkLimits": "codeact.policy.network",
    "OutputFile": "codeact.bridge.protocol",
    "OutputLimits": "codeact.policy.outputs",
    "OutputValidationError": "codeact.errors",
    "PackageGrant": "codeact.policy.packages",
    "RateLimit": "codeact.calls.middleware",
    "Redact": "codeact.calls.audit",
    "SandboxBackend": "codeact.sandbox",
    "SandboxError": "codeact.errors",
    "Session": "codeact.runtime",
    "SessionReport": "codeact.runtime",
    "SessionStateError": "codeact.errors",
    "Tool": "codeact.tools",
    "ToolCallRecord": "codeact.bridge.protocol",
    "ToolDefinitionError": "codeact.errors",
    "ToolInvocation": "codeact.calls.call",
    "ToolSet": "codeact.tools",
    "TurnLimitExceeded": "codeact.errors",
    "UserError": "codeact.errors",
    "resolve_packages": "codeact.sandbox.packages",
    "tool": "codeact.tools",
}


def __getattr__(name: str) -> _Any:
    module = _WHERE.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(module), name)
        globals()[name] = value
        return value
    # Deprecated names, still importable: each warns once where it is used.
    if name == "ToolCall":
        _warnings.warn(
            "codeact.ToolCall is now codeact.ToolInvocation (a call on its way through the "
            "middleware chain; codeact.chat.ToolCall is a model's request)",
            DeprecationWarning,
            stacklevel=2,
        )
        return __getattr__("ToolInvocation")
    if not name.startswith("_") and _importlib_util.find_spec(f"codeact.{name}") is not None:
        return _importlib.import_module(f"codeact.{name}")  # codeact.runtime, as before
    raise AttributeError(f"module 'codeact' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
