"""Approvals in the Agent Framework provider: the framework's flow for blocks, a handler for calls.

Agent Framework asks for approval *between* model turns: when the model calls a tool whose
``approval_mode`` is ``"always_require"``, the run ends with a ``function_approval_request`` in
``response.user_input_requests``, and a later ``agent.run`` carrying the person's
``function_approval_response`` invokes the tool from the start (or, for a rejection, answers
the call itself without invoking anything). That fits a whole `execute_code` block, which is
asked about before it runs, and codeact uses it there, as the reference does.

It cannot carry an approval *inside* a running program: the program would have to stay paused
across two `agent.run` calls (outliving the first, and the process if the session is stored),
and a rejection never reaches the tool, so the paused program could not learn it was denied.
The framework's own agent-as-tool refuses nested approval requests for the same reason. So
calls inside a program (``approval_scope="call"``, and calls beyond the plan with ``"plan"``)
go to codeact's `approval_handler`, which answers while the program waits, and a denied call
is a ``ToolDenied`` the program can catch.

========  ======================================  ==========================================
scope     execute_code itself requires approval   inside the program
========  ======================================  ==========================================
block     approval_mode="always_require", or any  nothing more: approving the block approves
          tool requires it (the reference's rule) every call in it
call      approval_mode="always_require"          each gated call asks `approval_handler`
plan      approval_mode="always_require"          `approval_handler` approves the calls the
                                                  scan finds, up front (the framework's
                                                  approval of the block does instead, when it
                                                  was asked: a tool whose site is in a loop
                                                  or function then runs as often as the
                                                  loop does); calls beyond them ask it again
========  ======================================  ==========================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent_framework import Content, FunctionInvocationContext, FunctionTool

from ...calls.approvals import (
    APPROVAL_SCOPES,
    Approval,
    ApprovalHandler,
    ApprovalRequest,
    handler_name,
    invoke_handler,
)
from ...errors import ConfigurationError
from ._nested_calls import ran_through_middleware

__all__ = [
    "FRAMEWORK",
    "ApprovalRoute",
    "check_approval_options",
    "execute_code_needs_approval",
    "framework_approved",
]

#: Who approved a block through Agent Framework's own approval flow (as the audit shows it).
FRAMEWORK = "agent_framework"


def check_approval_options(mode: Any, scope: Any, handler: Any) -> None:
    """Refuse a mode or scope we do not know, and a handler that would never be asked."""
    if mode not in (None, "never_require", "always_require"):
        raise ConfigurationError(
            f"approval_mode must be 'never_require' or 'always_require', got {mode!r}"
        )
    if scope not in APPROVAL_SCOPES:
        raise ConfigurationError(
            f"approval_scope must be one of {', '.join(map(repr, APPROVAL_SCOPES))}, got {scope!r}"
        )
    if handler is not None and not callable(handler):
        raise ConfigurationError(
            "approval_handler must be an async callable (ApprovalRequest) -> bool | Approval, "
            f"got {handler!r}"
        )
    if handler is not None and scope == "block":
        raise ConfigurationError(
            "approval_handler is asked about calls inside a running program, which happens with "
            "approval_scope='call' or 'plan'; with approval_scope='block' (the default, as in "
            "the reference) Agent Framework's approval flow approves whole blocks. "
            "Pass approval_scope='call' to gate each call"
        )


def execute_code_needs_approval(
    *, scope: str, approval_mode: str, tools: Iterable[FunctionTool]
) -> bool:
    """Whether the framework must approve each `execute_code` call before it runs."""
    if approval_mode == "always_require":
        return True
    return scope == "block" and any(t.approval_mode == "always_require" for t in tools)


def framework_approved(tool: FunctionTool, context: FunctionInvocationContext) -> bool:
    """Whether the framework approved this `execute_code` call before invoking it.

    The framework invokes a tool that requires approval only with an approval; through its
    middleware it also hands over the response, which must then be there and be a yes.
    """
    if tool.approval_mode != "always_require":
        return False
    if not ran_through_middleware(context):
        return True
    response = context.metadata.get("approval_response")
    return (
        isinstance(response, Content)
        and response.type == "function_approval_response"
        and response.approved is True
    )


class ApprovalRoute:
    """The approval handler of one execution.

    A block the framework (or the caller of `ExecuteCodeTool.run`) already approved is approved
    on its behalf; everything else goes to the user's handler, or is denied with a message
    that says how to add one.
    """

    def __init__(
        self, handler: ApprovalHandler | None, *, block_approved_by: str | None, scope: str
    ) -> None:
        self.handler = handler
        self.block_approved_by = block_approved_by
        self.scope = scope
        self.name = handler_name(handler) if handler is not None else "none"

    async def __call__(self, request: ApprovalRequest) -> Approval | bool:
        if request.kind == "block" and self.block_approved_by is not None:
            # In scope "plan", codeact grants the plan's call sites, each what it shows, and a
            # site in a loop every call it makes (the person approved that code); a call no
            # site accounts for is asked. Other scopes grant as codeact does.
            return Approval.approve(
                "the execute_code call was approved",
                by=self.block_approved_by,
                loops=self.scope == "plan",
            )
        if self.handler is None:
            return Approval.deny(self._no_handler(request), by="none")
        answer: Approval | bool = await invoke_handler(self.handler, request)
        return answer

    def _no_handler(self, request: ApprovalRequest) -> str:
        what = f"{request.tool}()" if request.kind == "call" else "this program's gated calls"
        return (
            f"{what} need{'s' * (request.kind == 'call')} approval and no approval_handler was "
            "given: pass approval_handler= to CodeActProvider or ExecuteCodeTool "
            f"(with approval_scope={self.scope!r} it is asked inside the running program)"
        )
