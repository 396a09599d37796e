"""Approvals for programs run by an MCP server: ask the person through their MCP client.

A server started by an MCP client over stdio cannot ask on its own stdin or stdout: they carry
the protocol. MCP has a way for a server to ask the client's user something in the middle of a
tool call, *elicitation*; `McpApprover` uses it when the client said it supports it, showing
the call (or the program and its plan) and a yes/no form. Otherwise it asks a `fallback`
handler (``codeact serve-mcp --approve ask`` uses the server's terminal, ``/dev/tty``, if it
has one), and without one it denies the call, saying why and what to do. A gated call never
runs without a yes.

`build_mcp_server` tells the approver which client request runs the program; a handler used
elsewhere (no MCP request) goes straight to the fallback.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from ..bridge.approvals import Approval, ApprovalHandler, ApprovalRequest

try:
    from mcp.server.elicitation import AcceptedElicitation, DeclinedElicitation
    from mcp.server.mcpserver import Context
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("MCP approvals need the `mcp` package: pip install 'codeact[mcp]'") from exc

__all__ = ["McpApprover", "asking_through"]

_REQUEST: contextvars.ContextVar[Context[Any, Any] | None] = contextvars.ContextVar(
    "codeact_mcp_request", default=None
)

DEFAULT_ADVICE = "pass McpApprover(fallback=...) another way to ask"


class ApprovalForm(BaseModel):
    """The form the MCP client shows its user."""

    approve: bool = Field(description="Allow this?")
    reason: str = Field(default="", description="Why (optional; a denied program sees it)")


@contextlib.contextmanager
def asking_through(context: Context[Any, Any]) -> Iterator[None]:
    """While the program of this MCP request runs, approvals are asked through its client."""
    token = _REQUEST.set(context)
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
        context = _REQUEST.get()
        why = (
            elicitation_unavailable(context)
            if context is not None
            else "the program does not run for an MCP request"
        )
        if why is None and context is not None:
            return await _elicit(context, request)
        if self.fallback is not None:
            return await self.fallback(request)
        return Approval.deny(f"nobody could be asked: {why}; {self.advice}")


def elicitation_unavailable(context: Context[Any, Any]) -> str | None:
    """Why the client of this request cannot be asked now (None: it can)."""
    capabilities = context.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # An empty capability means forms (the spec's backward compatibility); url alone does not.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return "the MCP client does not support elicitation"
    if not context.request_context.session.can_send_request:
        # From protocol 2026-07-28 on, a server asks by ending the call with questions and the
        # client calls again with the answers: a running program cannot wait for them.
        return (
            f"the MCP client speaks protocol {context.protocol_version}, in which a server "
            "cannot ask while a call runs (a client using protocol 2025-11-25 or older can be "
            "asked)"
        )
    return None


async def _elicit(context: Context[Any, Any], request: ApprovalRequest) -> Approval:
    message = f"codeact: {request.describe()}"
    try:
        answer = await context.elicit(message, ApprovalForm)
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
