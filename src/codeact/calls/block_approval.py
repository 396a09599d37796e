"""Block approval: ask once about a whole program, before it runs, and leave its grants.

The handler gets an `ApprovalRequest` of kind ``"block"``: the program's code and a static
scan of the gated calls it may make (`CallPlan`). How this combines with per-call approval
depends on the scope (`ApprovalScope`):

======== ===================================================  ===============================
scope    the block is asked first when                        approving the block pre-approves
======== ===================================================  ===============================
call     CodeAct(approval_mode="always_require")              the handler's `grants` (none by
                                                              default): other calls are asked
plan     that, or the scan finds gated calls                  the handler's `grants`, by
                                                              default the calls the scan counted
                                                              (none if the scan finds calls it
                                                              cannot name: `CallPlan.dynamic`,
                                                              or in a session that holds state:
                                                              `CallPlan.carried`)
block    that, or any gated tool is registered (reference)    every call in the block
======== ===================================================  ===============================

A pre-approved call is recorded as ``decision="preapproved"``; a gated call beyond the grants
is asked on its own. Denying the block means the program does not run at all.

`ask_block_if_needed` is what a run calls before the program starts: it decides from the
approval mode and scope whether to ask (`block_needs_approval`), scans the code for the gated
calls it may make (`codeact.calls.scan`), asks through the pipeline's `Approver`
(`approve_block`) and hands the answer's record to the audit sink. Per-call approval, the
handler's protocol and `Approval` are `codeact.calls.approvals`.
"""

from __future__ import annotations

import asyncio
import dataclasses

from ..bridge.protocol import ToolCallRecord
from ..tools import ToolSet
from ..tools.definition import ApprovalMode
from .approvals import Approval, ApprovalRequest, ApprovalScope, Approver
from .call import ProgramContext
from .pipeline import ToolPipeline
from .scan import CallPlan, scan_program
from .site_grants import plan_sites

__all__ = ["approve_block", "ask_block_if_needed", "block_needs_approval"]

#: Programs up to this many characters are scanned on the event loop (a few milliseconds).
_SCAN_ON_LOOP_CHARS = 64_000


async def ask_block_if_needed(
    pipeline: ToolPipeline,
    *,
    code: str,
    tools: ToolSet,
    program: ProgramContext,
    mode: ApprovalMode,
    scope: ApprovalScope,
    session_state: bool = False,
) -> ToolCallRecord | None:
    """Before a block runs: ask about it when the mode and scope say so (see the table above);
    the audit record of the answer, or None if nothing was asked. On approval, the scope's
    grants are left in `program`."""
    gated = any(t.approval_mode == "always_require" for t in tools)
    if not gated and mode != "always_require":
        return None
    if len(code) <= _SCAN_ON_LOOP_CHARS:
        plan = scan_program(code, tools)
    else:  # a long program's parse and walk (seconds for 1 MB) must not stall the loop
        plan = await asyncio.to_thread(scan_program, code, tools)
    if session_state:
        # Earlier calls' definitions and values run in this one too: a function defined
        # before may call a gated tool that this code does not name.
        plan = dataclasses.replace(plan, carried=True)
    always = mode == "always_require"
    if not block_needs_approval(scope=scope, always=always, gated_tools=gated, plan=plan):
        return None
    _, record = await approve_block(
        pipeline.approver, code=code, plan=plan, scope=scope, program=program
    )
    pipeline.emit(record)
    return record


def block_needs_approval(
    *, scope: ApprovalScope, always: bool, gated_tools: bool, plan: CallPlan
) -> bool:
    """Whether a block is asked before it runs (see the table in this module's docstring)."""
    if always:
        return True
    if scope == "block":
        return gated_tools
    if scope == "plan":
        return bool(plan.gated)
    return False


async def approve_block(
    approver: Approver,
    *,
    code: str,
    plan: CallPlan,
    scope: ApprovalScope,
    program: ProgramContext,
) -> tuple[Approval, ToolCallRecord]:
    """Ask for the whole block; on approval, leave the scope's grants in `program`."""
    request = ApprovalRequest(kind="block", code=code, plan=plan, origin="block")
    # Not `program`: the block is asked before the program runs, and its wait is not one of
    # the program's approval requests; its trace shows it (``approval execute_code``).
    approval, name, waited = await approver.ask(request, watcher=program.watcher)
    record = ToolCallRecord(
        name="execute_code",
        arguments={"planned": plan.counts()},
        started_ms=0.0,
        duration_ms=waited,
        origin="block",
        decision="approved" if approval.approved else "denied",
        handler=name,
        reason=approval.reason,
        approval_ms=waited,
        run_id=program.run_id,
    )
    if not approval.approved:
        record.outcome = "denied"
        record.error = approval.reason or "not approved"
        return approval, record
    if approval.grants is not None:  # the handler's own grants, in every scope
        program.grant(approval.grants)
    elif scope == "block":
        program.grant({}, every_call=True)
    elif scope == "plan" and not plan.dynamic and not plan.syntax_error and not plan.carried:
        # The plan's counts pre-approve only what the scan could name. A program that can
        # reach a tool some other way (the runner module, exec, frames, a function an earlier
        # call of its session defined) gets no blanket count: a hidden call would use up a
        # listed call's grant. Its calls are asked. And a hidden path the scan misses cannot
        # take a shown call's grant either when that call's arguments are literals: each site
        # grants what it shows (`codeact.calls.site_grants`).
        program.grant_sites(plan_sites(plan, loops_repeat=approval.loops))
    return approval, record
