"""Gated calls approved through a framework's own human-in-the-loop, before the program runs.

A LangGraph interrupt, a Pydantic AI deferred approval or an OpenAI Agents ``needs_approval``
asks a person about a program (`approval_payload`: its code and the gated calls a static scan
found); once approved, the program runs under `approved_plan`, and `FrameworkApprovals`, the
approval handler of the adapter's `CodeAct`, lets through what the person saw: each call site
grants what it shows (`codeact.calls.site_grants`: a site with literal arguments, a call with
exactly those; a site in a loop, comprehension or function, as often as it runs), and a call
no site accounts for (a path the scan does not know) is denied with the reason.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import Approval, ApprovalRequest
from ..calls.approvals import invoke_handler
from ..calls.site_grants import Site, SiteGrants

__all__ = [
    "FrameworkApprovals",
    "GatedCalls",
    "approval_payload",
    "approved_plan",
    "for_this_program",
]


class GatedCalls(dict[str, int]):
    """The gated calls of a program a person is asked about: ``{tool: call sites}``, and in
    `repeated` the tools with a site in a loop, comprehension or function (the scan's
    `PlannedCall.repeated`). Such a site may run any number of times, so approving the program
    approves every call of that tool it makes (its site is the one the person saw)."""

    def __init__(
        self,
        counts: Mapping[str, int],
        repeated: Iterable[str] = (),
        *,
        sites: Mapping[str, Iterable[Site]] | None = None,
    ) -> None:
        super().__init__(counts)
        self.repeated = frozenset(t for t in repeated if t in counts)
        #: Each tool's call sites (`codeact.calls.site_grants.plan_sites`), when scanned here.
        self.sites = {t: list(s) for t, s in sites.items()} if sites is not None else None


def _repeated(counts: Mapping[str, int]) -> frozenset[str]:
    return counts.repeated if isinstance(counts, GatedCalls) else frozenset()


@dataclass
class _ApprovedPlan:
    counts: dict[str, int]
    repeated: frozenset[str]
    by: str
    reason: str
    used: dict[str, int] = field(default_factory=dict)
    sites: SiteGrants | None = None  #: the call sites, each granting what it shows
    claimed: bool = False  #: a program runs under it: the one the person approved

    def shown(self) -> str:
        """The calls the person approved, as the question showed them."""
        return _calls_text(self.counts, self.repeated) or "no gated call"


_approved: contextvars.ContextVar[_ApprovedPlan | None] = contextvars.ContextVar(
    "codeact_framework_approved_plan", default=None
)


class FrameworkApprovals:
    """The approval handler of a CodeAct an adapter built: while a program approved through
    the framework runs, it lets the calls the person saw through (as often as a repeated
    site runs) and denies the others; otherwise it asks the user's own handler (sync or
    async, as codeact takes one), or denies, as codeact does without one."""

    name = "framework"

    def __init__(self, fallback: Callable[[ApprovalRequest], Any] | None) -> None:
        self.fallback = fallback

    async def __call__(self, request: ApprovalRequest) -> Approval | bool:
        plan = _approved.get()
        if plan is None:
            if self.fallback is None:
                what = "this program" if request.kind == "block" else f"{request.tool}()"
                return Approval.deny(
                    f"{what} needs approval, and a person approves gated calls through the "
                    "framework before the program runs only when the program names each "
                    "one: call it as tool(...) or call_tool('tool', ...) with a literal "
                    "name, and reach no tool through names built at run time, getattr, "
                    "eval or exec",
                    by="none",
                )
            answer: Approval | bool = await invoke_handler(self.fallback, request)
            return answer
        if request.kind == "block":
            # Nothing granted up front, whatever the scope (a count, a second copy of the
            # sites or "every call" would each let a call no site accounts for through): each
            # call is asked here, and the one copy of the sites (`plan.sites`) decides.
            return Approval.approve(plan.reason, by=plan.by, grants={})
        tool = request.tool or ""
        if plan.sites is not None:
            if plan.sites.take(tool, request.arguments):
                return Approval.approve(plan.reason, by=plan.by)
            if tool in plan.counts:
                return Approval.deny(_beyond_sites(tool, plan), by=plan.by)
        elif tool in plan.repeated:
            return Approval.approve(plan.reason, by=plan.by)
        used, approved = plan.used.get(tool, 0), plan.counts.get(tool, 0)
        if plan.sites is None and used < approved:
            plan.used[tool] = used + 1
            return Approval.approve(plan.reason, by=plan.by)
        if approved:
            reason = (
                f"{tool}() was approved for the {approved} call{'s' * (approved > 1)} the "
                "person saw before the program ran, and the program has made "
                f"{'them' if approved > 1 else 'it'}; a call beyond them needs a new program "
                "(and a new approval)"
            )
        else:
            reason = (
                f"{tool}() was not among the calls the person approved before the program ran "
                f"({plan.shown()}); an approved program runs only the gated tools its plan "
                "shows: call each as tool(...) or call_tool('tool', ...) with a literal name"
            )
        return Approval.deny(reason, by=plan.by)


def approval_payload(code: str, counts: Mapping[str, int]) -> dict[str, Any]:
    """What the framework shows the person: the program, the gated calls it makes (call
    sites per tool), the tools whose sites may run any number of times, and a question."""
    repeated = _repeated(counts)
    return {
        "tool": "execute_code",
        "code": code,
        "gated_calls": dict(counts),
        "repeated": sorted(repeated),
        "question": "run this program? it calls "
        + (_calls_text(counts, repeated) or "no gated tool"),
    }


def _calls_text(counts: Mapping[str, int], repeated: Collection[str]) -> str:
    """``send_email (1x), archive (in a loop or function: any number of times)``."""
    return ", ".join(
        f"{n} (in a loop or function: any number of times)" if n in repeated else f"{n} ({c}x)"
        for n, c in counts.items()
    )


@contextlib.contextmanager
def approved_plan(counts: Mapping[str, int], *, by: str) -> Iterator[None]:
    """Run the program inside this block after the framework's person approved `counts`
    (what `AdapterCore.plan_to_approve` returned)."""
    reason = f"approved by a person through {by}"
    plan = _ApprovedPlan(dict(counts), _repeated(counts), by, reason)
    if isinstance(counts, GatedCalls) and counts.sites is not None:
        plan.sites = SiteGrants()
        for tool, sites in counts.sites.items():
            plan.sites.add(tool, sites)
    token = _approved.set(plan)
    try:
        yield
    finally:
        _approved.reset(token)


def _beyond_sites(tool: str, plan: _ApprovedPlan) -> str:
    return (
        f"{tool}() was approved for the calls the person saw before the program ran "
        f"({plan.shown()}), with the arguments written there; this call matches none of "
        "them left (other arguments than a site shows, or more calls than it makes), so it "
        "needs a new program (and a new approval)"
    )


@contextlib.contextmanager
def for_this_program() -> Iterator[None]:
    """Around one program's run: the plan a person approved applies to the first program run
    under it, the one they read; a program a tool of that one starts through an adapter (a
    sub-agent sharing the tool) inherited the plan with the context, and its hidden calls
    took the grants of the parent's sites. It runs under no plan: its calls are asked."""
    plan = _approved.get()
    if plan is None or not plan.claimed:
        if plan is not None:
            plan.claimed = True
        yield
        return
    token = _approved.set(None)
    try:
        yield
    finally:
        _approved.reset(token)
