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
    )
    for name in codeact.__all__:
        assert hasattr(codeact, name), name
