"""Exceptions raised by codeact on the host.

Code written by the model that fails is *not* an exception here: it is a result
(`ExecutionResult.ok is False`, with the guest's traceback) that goes back to the model.
These classes are for the people who build agents:

    CodeActError                    base of everything codeact raises
    ├── UserError                   a mistake in how codeact is used; the message says how to fix it
    │   ├── ToolDefinitionError     a function that cannot be described as a tool (at decoration)
    │   ├── ConfigurationError      bad limits, mounts, domains, tool sets or arguments
    │   ├── SessionStateError       a saved session state that cannot be restored here
    │   ├── BackendUnavailable      the requested sandbox backend cannot run on this machine
    │   └── MissingExtra            (also an ImportError) an optional extra is not installed;
    │                               the message says what to install
    ├── SandboxError                the sandbox itself failed (not the model's code)
    │   └── GuestBuildError         building or compiling the Wasm guest failed
    ├── IntegrationError            a connected service failed (an MCP server did not start...)
    ├── ChatError                   a chat client could not get a reply from its model; out of
    │   │                           `Agent.run`, `.result` holds the partial run
    │   └── ModelNotConfigured      no endpoint or model is configured and none can be started
    └── AgentError                  an agent run could not finish; `.result` holds the partial run
        ├── TurnLimitExceeded       the model was still calling tools after `max_turns` turns
        └── OutputValidationError   the final answer did not match the agent's `output_type`

    ExecutionInterrupted            (a KeyboardInterrupt) Ctrl-C stopped `execute_sync`; `.result`
                                    holds what the program printed until then

Errors from libraries below us (wasmtime, openai, ...) are translated at the boundary with
`raise ... from exc`, so callers only ever need to catch these.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AgentError",
    "BackendUnavailable",
    "ChatError",
    "CodeActError",
    "ConfigurationError",
    "ExecutionInterrupted",
    "GuestBuildError",
    "IntegrationError",
    "MissingExtra",
    "ModelNotConfigured",
    "OutputValidationError",
    "SandboxError",
    "SessionStateError",
    "ToolDefinitionError",
    "TurnLimitExceeded",
    "UserError",
]


class CodeActError(Exception):
    """Base class of every exception codeact raises."""


class UserError(CodeActError):
    """codeact was used in a way that cannot work; the message says what to change."""


class ToolDefinitionError(UserError):
    """A function cannot be turned into a tool (raised when `@tool` is applied)."""


class ConfigurationError(UserError):
    """An argument or setting is invalid (limits, mounts, domains, tools, backend options)."""


class SessionStateError(UserError):
    """A session's saved state was refused: damaged, sealed with another key, or saved by
    another codeact version or backend. Nothing of it reached a sandbox."""


class BackendUnavailable(UserError):
    """The requested sandbox backend cannot run here; `reason` says why."""

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(f"sandbox backend {backend!r} is unavailable: {reason}")
        self.backend = backend
        self.reason = reason


class MissingExtra(ConfigurationError, ImportError):
    """A part of codeact that needs an optional extra was used without it (`codeact.ray`, an
    integration, ``codeact serve-mcp``). Also an `ImportError`, so ``except ImportError``
    around an optional import still catches it; the message is one line ending in the
    command that installs the extra (see `codeact._extras`)."""


class SandboxError(CodeActError):
    """The sandbox failed for a reason that is not the executed program's fault."""


class GuestBuildError(SandboxError):
    """Building the Wasm guest (componentize-py) or compiling it (wasmtime) failed."""


class IntegrationError(CodeActError):
    """A service codeact connects to (an MCP server, an agent framework) failed."""


class ChatError(CodeActError):
    """A chat client could not get a reply from its model.

    Raised out of `Agent.run`, `result` is the run so far (an `AgentResult`: the tokens,
    turns, programs and messages up to the failed request), as an `AgentError`'s is, so the
    costs of a run cut short by its model are not lost; None from a client called directly.
    """

    result: Any = None


class ModelNotConfigured(ChatError, UserError):
    """No model endpoint is configured, and the embedded model is not installed."""


class AgentError(CodeActError):
    """An agent run could not finish. `result` is the run so far (an `AgentResult`: usage,
    timings and messages up to the failure), so costs are never lost."""

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class TurnLimitExceeded(AgentError):
    """The model was still calling tools when the agent's `max_turns` ran out."""


class OutputValidationError(AgentError):
    """The final answer did not validate against the agent's `output_type`."""


class ExecutionInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a `CodeAct.execute_sync`. It is a KeyboardInterrupt (a script stops as
    it would have); `result` is the `ExecutionResult` of the stopped program, with what it
    printed before the interrupt."""

    def __init__(self, result: Any) -> None:
        super().__init__("the execution was interrupted")
        self.result = result
