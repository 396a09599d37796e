"""`ToolCallRecord`: the record of one tool call, and the words it is told in.

Every call a program or an agent makes ends as one record (in `ExecutionResult.tool_calls`,
the audit sink, the spans). Re-exported by `codeact.bridge.protocol`, which it was part of.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .._display import finite_json

__all__ = ["CallDecision", "CallOrigin", "CallOutcome", "ToolCallRecord"]


#: How a tool call ended, as recorded in the result's audit of tool calls.
CallOutcome: TypeAlias = Literal[
    "ok", "error", "invalid", "unknown", "denied", "timeout", "cancelled", "refused"
]


#: Where a call came from: a program's code, the agent calling a tool directly, or (for the
#: record of a whole-block approval) the `execute_code` block itself.
CallOrigin: TypeAlias = Literal["code", "direct", "block"]

#: What approval decided: not_required (the tool is not gated), approved (a handler said yes),
#: preapproved (covered by an up-front approval of the block), denied (a handler, a timeout or
#: a middleware said no), undecided (the tool needs approval and the call ended, a limit
#: stopped the program, before anyone decided).
CallDecision: TypeAlias = Literal["not_required", "approved", "preapproved", "denied", "undecided"]


@dataclass
class ToolCallRecord:
    """One tool call: what was called, when, how long it took, who decided, how it ended.

    `started_ms` counts from the start of the program; `arguments` are as the tool received
    them (validated, as JSON values; as sent when they were invalid), with the values hidden
    by the configured redaction, which `error` and `reason` never show either. `outcome`
    "refused" means the call was over the tool-call limit, or was started while the
    program's unfinished calls held as many bytes of arguments as they may. `handler` names
    who decided (an approval handler, ``"grant"`` for a call covered by an up-front
    approval, or the middleware that denied it);
    `approval_ms` is the time spent waiting for that decision (it does not count against the
    program's wall time). `run_id` is the same for every call of one execution.
    """

    name: str
    arguments: Any
    started_ms: float
    duration_ms: float = 0.0
    outcome: CallOutcome = "ok"
    error: str | None = None
    origin: CallOrigin = "code"
    decision: CallDecision = "not_required"
    handler: str | None = None
    reason: str | None = None
    approval_ms: float = 0.0
    run_id: str | None = None
    #: The text of the values the redaction hid, kept out of `error` and `reason`.
    _hidden: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": finite_json(self.arguments),  # strict JSON: no bare NaN
            "started_ms": round(self.started_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "outcome": self.outcome,
            "error": self.error,
            "origin": self.origin,
            "decision": self.decision,
            "handler": self.handler,
            "reason": self.reason,
            "approval_ms": round(self.approval_ms, 3),
            "run_id": self.run_id,
        }
