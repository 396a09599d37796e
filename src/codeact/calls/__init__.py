"""The tool-call pipeline: what happens to one tool call on the host, nested or direct.

Every call, whether a program made it with `call_tool` (through `codeact.bridge`) or an agent
made it directly, passes the same `ToolPipeline`:

    user middlewares -> approval gate -> the tool

and ends as one audit record. The parts: `call` (the call a middleware sees and the program
it belongs to), `middleware`, `approvals` and `approval_handlers`, `block_approval` (asking about
a whole program before it runs), `audit` (records, redaction, sinks), `scan` (what a program
will call, read before it runs), `sizes` (size limits checked before work), `outcome` (what a
call's caller gets back, its record settled) and `pipeline` (the chain and the life of one
call). This package knows nothing of sandboxes: `bridge` uses it, never the reverse.
"""

from __future__ import annotations

from .approvals import Approval, ApprovalHandler, ApprovalRequest
from .audit import JsonlAudit, Redact
from .call import CallDenied, ProgramContext, ToolInvocation
from .middleware import LogCalls, Middleware, RateLimit
from .outcome import CallResult, DirectCallResult
from .pipeline import ToolPipeline

__all__ = [
    "Approval",
    "ApprovalHandler",
    "ApprovalRequest",
    "CallDenied",
    "CallResult",
    "DirectCallResult",
    "JsonlAudit",
    "LogCalls",
    "Middleware",
    "ProgramContext",
    "RateLimit",
    "Redact",
    "ToolInvocation",
    "ToolPipeline",
]
