"""How one tool call ends: what its caller gets back and what its record says.

Every call the pipeline runs, nested or direct, ends in one place (`ToolPipeline.end`), which
builds a `CallResult` for the caller (a program or a model) and settles the call's
`ToolCallRecord` with `settle_record`: the outcome, the duration, and the approval decision
the call collected on its way (who decided, why, how long the wait was). A denied call carries
`denial`'s message, which names the tool, so a program or a model can tell a refusal from an
error the tool raised.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from ..bridge.protocol import CallErrorKind, CallOutcome, ToolCallRecord
from .audit import scrub
from .call import ToolInvocation

__all__ = ["CallResult", "DirectCallResult", "denial", "settle_record"]


@dataclass
class CallResult:
    """How one tool call ended: its value (JSON values) or why it failed, and its record.

    `encoded` is the value as JSON text (what a program receives); `error` is the message the
    caller (a program or a model) reads, `error_kind` its kind.
    """

    ok: bool
    record: ToolCallRecord
    value: Any = None
    error_kind: CallErrorKind | None = None  #: error, invalid, unknown, denied ("error" on timeout)
    error: str | None = None
    encoded: str = "null"

    def to_model_text(self) -> str:
        """What a model reads back: the JSON value, or ``error (kind): message``."""
        if self.ok:
            return json.dumps(self.value, ensure_ascii=False)
        return f"error ({self.error_kind}): {self.error}"


#: The result of `ToolPipeline.call_direct` (the same class: one call's end, however it ran).
DirectCallResult = CallResult


def denial(name: str, message: str, kind: CallErrorKind) -> str:
    """The message a denied call carries to the program (or model)."""
    if kind != "denied":
        return message
    return f"the call of {name}() was denied: {message}"


def settle_record(
    record: ToolCallRecord,
    call: ToolInvocation | None,
    outcome: CallOutcome,
    error: str | None,
    t0: float,
    *,
    denied_by: str | None = None,
) -> None:
    """Fill a record's outcome, duration and the decision fields the call collected."""
    record.duration_ms = (time.monotonic() - t0) * 1000
    record.outcome = outcome
    record.error = scrub(error, record._hidden)
    if call is not None:
        record.decision = call.decision
        if call.decision == "not_required" and call.tool.approval_mode == "always_require":
            record.decision = "undecided"  # ended before anyone decided
        record.handler = call.handler
        record.reason = scrub(call.reason, record._hidden)
        record.approval_ms = call.approval_ms
    if outcome == "denied":
        record.decision = "denied"
        if denied_by is not None:
            record.handler = denied_by
        record.reason = record.reason or record.error
