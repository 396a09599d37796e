"""Programs stopped by a denial: a person (or a policy) refused a gated call, or the whole
block, so the program failed.

That is a decision, not a slip in the program: the model is not told to fix the program and
run it again, and its next reply is not held to a tool call (`ProgramCalls.call_due`); an
answer that says the action was not done is an answer. The same program sent again is not
run (the person is not asked the same question twice in one run).
"""

from __future__ import annotations

from ..runtime import ExecutionResult
from .program_check import NOTE_MARKER

__all__ = ["denial_note", "denial_of", "denied_again_message"]


def denial_of(result: ExecutionResult) -> str | None:
    """What was denied when a denial stopped `result`'s program (``"the program"`` for a
    block, else the denied calls, ``"pay()"``); None when none did (or the program ran)."""
    if result.ok:
        return None
    if result.approval is not None and result.approval.outcome == "denied":
        return "the program"
    if result.error is None or result.error.type != "ToolDenied":
        return None  # it caught the denial and then failed: a slip of its own, to fix
    names = dict.fromkeys(f"{c.name}()" for c in result.tool_calls if c.outcome == "denied")
    return ", ".join(names) or None


def denial_note(denied: str) -> str:
    """The line after a denied program's response."""
    return (
        f"{NOTE_MARKER} {denied} was denied: a decision, not an error to fix. Do not run it "
        "again; answer the user, saying what was not done and why, or do what else the task "
        "needs."
    )


def denied_again_message(denied: str) -> str:
    """The response to a program sent again after a denial stopped it."""
    return (
        f"Error: this exact program already ran and {denied} was denied; it was not run again "
        "(it would ask the same question). Answer the user, saying what was not done and why."
    )
