"""Approvals for programs run by an MCP server: ask the person through their MCP client.

A server started by an MCP client over stdio cannot ask on its own stdin or stdout: they carry
the protocol. MCP has a way for a server to ask the client's user something while a tool call
is in progress, *elicitation*; `McpApprover` uses it when the client said it supports it,
showing the call (or the program and its plan) and a yes/no form. Up to protocol 2025-11-25
the server sends the question while the call runs; from 2026-07-28 on it ends the round of
the call with the question and the client calls again with the answer, while the program
waits at its gated call (`codeact.integrations.mcp._rounds`). When the client cannot be
asked, `McpApprover` asks its `fallback` (``codeact serve-mcp --approve ask`` uses the server's
terminal, ``/dev/tty``, if it has one), and without one it denies the call, saying why and what
to do. A gated call never runs without a yes.

`build_mcp_server` tells the approver which client request runs the program; a handler used
elsewhere (no MCP request) goes straight to the fallback.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from ..._extras import needs_extra
from ...calls.approvals import Approval, ApprovalHandler, ApprovalRequest, invoke_handler
from ._rounds import ProgramRounds

with needs_extra("mcp", "MCP approvals"):
    import mcp_types
    from mcp.server.elicitation import (
        AcceptedElicitation,
        DeclinedElicitation,
        render_elicitation_schema,
    )
    from mcp.server.mcpserver import Context

__all__ = ["McpApprover", "asking_through", "asks_in_rounds", "elicit_request"]

#: The first protocol version in which a server asks by ending a round of the call.
ROUNDS_PROTOCOL = "2026-07-28"
DEFAULT_ADVICE = "pass McpApprover(fallback=...) another way to ask"


class ApprovalForm(BaseModel):
    """The form the MCP client shows its user."""

    approve: bool = Field(description="Allow this?")
    reason: str = Field(default="", description="Why (optional; a denied program sees it)")


@dataclass(frozen=True)
class _Asking:
    context: Context[Any, Any]
    rounds: ProgramRounds | None


_REQUEST: contextvars.ContextVar[_Asking | None] = contextvars.ContextVar(
    "codeact_mcp_request", default=None
)


@contextlib.contextmanager
def asking_through(
    context: Context[Any, Any], rounds: ProgramRounds | None = None
) -> Iterator[None]:
    """While the program of this MCP request runs, approvals are asked through its client
    (in `rounds` of the call, on protocol 2026-07-28 and newer)."""
    token = _REQUEST.set(_Asking(context, rounds))
    try:
        yield
    finally:
        _REQUEST.reset(token)


class McpApprover:
    """An approval handler that asks the user of the MCP client whose request runs the program.

    Args:
        fallback: Asked when the client cannot be (no elicitation support, or no MCP request),
            e.g. an `InteractiveApprover` on the server's terminal.
        advice: What the denial says to do about it when neither can be asked.
    """

    name = "mcp elicitation"

    def __init__(
        self, *, fallback: ApprovalHandler | None = None, advice: str = DEFAULT_ADVICE
    ) -> None:
        self.fallback = fallback
        self.advice = advice

    async def __call__(self, request: ApprovalRequest) -> Approval | bool:
        asking = _REQUEST.get()
        if asking is None:
            why: str | None = "the program does not run for an MCP request"
        else:
            why = elicitation_unavailable(asking.context)
            if why is None and asking.rounds is not None:
                return await asking.rounds.ask(request)
            if why is None and asking.context.request_context.session.can_send_request:
                return await _elicit(asking.context, request)
            if why is None:
                why = "the MCP client's connection cannot carry a question during a call"
        if self.fallback is not None:
            answer: Approval | bool = await invoke_handler(self.fallback, request)
            return answer
        return Approval.deny(f"nobody could be asked: {why}; {self.advice}")


def elicitation_unavailable(context: Context[Any, Any]) -> str | None:
    """Why the client of this request cannot be asked (None: it can)."""
    capabilities = context.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # An empty capability means forms (the spec's backward compatibility); url alone does not.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return "the MCP client does not support elicitation"
    return None


def asks_in_rounds(context: Context[Any, Any]) -> bool:
    """Whether questions to this request's client end a round of the call (2026-07-28+)."""
    version = context.protocol_version
    return version is not None and version >= ROUNDS_PROTOCOL  # dates compare as strings


def _message(request: ApprovalRequest) -> str:
    return f"codeact: {request.describe()}"


def elicit_request(request: ApprovalRequest) -> mcp_types.ElicitRequest:
    """The question about `request`, as an input request of a round."""
    return mcp_types.ElicitRequest(
        params=mcp_types.ElicitRequestFormParams(
            message=_message(request), requested_schema=render_elicitation_schema(ApprovalForm)
        )
    )


async def _elicit(context: Context[Any, Any], request: ApprovalRequest) -> Approval:
    try:
        answer = await context.elicit(_message(request), ApprovalForm)
    except Exception as exc:  # the client failed or sent a bad form: no is the safe answer
        return Approval.deny(f"asking the MCP client failed ({type(exc).__name__}: {exc})")
    if isinstance(answer, AcceptedElicitation):
        form = answer.data
        if form.approve:
            return Approval.approve(form.reason or "approved by the MCP client's user")
        return Approval.deny(form.reason or "declined by the MCP client's user")
    if isinstance(answer, DeclinedElicitation):
        return Approval.deny("declined by the MCP client's user")
    return Approval.deny("the MCP client's user cancelled the question")
