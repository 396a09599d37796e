"""The public surface is curated: this pins it, so a change to it is deliberate."""

from __future__ import annotations
import __future__

import types

import pytest

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
    )
    for name in codeact.__all__:
        assert hasattr(codeact, name), name


def test_renamed_names_still_import_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="codeact.ToolInvocation"):
        alias = codeact.ToolCall  # the package's __getattr__ answers it (with the warning)
    assert alias is codeact.ToolInvocation
    assert "ToolCall" not in codeact.__all__
    with pytest.raises(AttributeError):
        codeact.NoSuchName  # noqa: B018


def test_nothing_else_leaks() -> None:
    """Every public name the package holds is in `__all__`, except its own submodules (Python
    binds a submodule to its package when anything imports it) and `from __future__`'s flag."""
    leaked = []
    for name, value in vars(codeact).items():
        if name.startswith("_") or name in codeact.__all__:
            continue
        if isinstance(value, types.ModuleType) and value.__name__ == f"codeact.{name}":
            continue
        if value is __future__.annotations:
            continue
        leaked.append(name)
    assert leaked == []


def test_the_package_says_it_is_typed() -> None:
    """PEP 561: without `py.typed`, mypy skips codeact in a user's project ("missing library
    stubs or py.typed marker") and every call into it is unchecked."""
    import importlib.resources

    assert importlib.resources.files("codeact").joinpath("py.typed").is_file()
