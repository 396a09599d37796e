"""The public surface is curated: this pins it, so a change to it is deliberate."""

from __future__ import annotations

import codeact


def test_exported_names() -> None:
    assert sorted(codeact.__all__) == sorted(
        [
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
    )
    for name in codeact.__all__:
        assert hasattr(codeact, name), name
