"""Approvals: gate each sensitive call, or the whole block, without giving up the one-turn program.

A tool with ``approval_mode="always_require"`` pauses the program at each call until the
approval handler answers. The handler is an async callable that receives an
`ApprovalRequest` (the tool, the arguments, the program's code, the calls made so far) and
returns True/False or an `Approval`. Approved: the call runs. Denied, no answer within the
timeout, or a handler that raises: the program gets a catchable ``ToolDenied`` with the
reason, and goes on. Waiting for a person does not count against the program's wall time.

Whole-block approval (asking once, before the program runs, and what approving the block
pre-approves) is `codeact.calls.block_approval`; per-call and block answers both come from
the same `Approver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .._checks import is_positive_seconds
from .._display import visible
from ..bridge.protocol import CallOrigin, ToolCallRecord
from ..errors import ConfigurationError
from .call import CallDenied, CallWatcher, ProgramContext, ToolInvocation, ToolRaised, awaited
from .middleware import CallNext, Middleware
from .scan import CallPlan

__all__ = [
    "DEFAULT_APPROVAL_TIMEOUT",
    "Approval",
    "ApprovalGate",
    "ApprovalHandler",
    "ApprovalRequest",
    "ApprovalScope",
    "Approver",
    "invoke_handler",
]

ApprovalScope: TypeAlias = Literal["call", "plan", "block"]
APPROVAL_SCOPES: tuple[ApprovalScope, ...] = ("call", "plan", "block")

#: Seconds a handler may take to answer before the call is denied.
DEFAULT_APPROVAL_TIMEOUT = 300.0

_log = logging.getLogger("codeact.approvals")
_LINES = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ApprovalRequest:
    """What a handler is asked to decide: one call (`kind` "call") or a whole block ("block").

    For a call: `tool` and `arguments` (the real values, not redacted), `code` of the program
    (None for a direct call), `calls` made so far. For a block: `code` and `plan`, the scan of
    the tools it may call (`plan.gated` are those that need approval); `arguments` is empty.
    """

    kind: Literal["call", "block"]
    tool: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    code: str | None = None
    calls: tuple[ToolCallRecord, ...] = ()
    plan: CallPlan | None = None
    origin: CallOrigin = "code"

    def describe(self) -> str:
        """A few lines for a person: the call and its arguments, or the code and its plan.

        Control and invisible characters from the program are shown as escapes (`visible`):
        nothing in the code or the arguments can hide a line from the person deciding."""
        return visible(self._describe())

    def _describe(self) -> str:
        if self.kind == "block":
            code = (self.code or "").rstrip("\n")
            # Lines as Python reads them: \r\n, \r or \n (splitlines would also break at
            # \x0c, \x1c or \u2028, which Python does not, and draw lines that are not there).
            lines = ["run this program?", *("    " + line for line in _LINES.split(code))]
            if self.plan is not None:
                lines.append("it may call:")
                lines += ["    " + line for line in self.plan.describe().splitlines()]
            return "\n".join(lines)
        made = f" (after {len(self.calls)} other call{'s' * (len(self.calls) != 1)})"
        source = "the program" if self.origin == "code" else "the agent"
        return f"{source} wants to call {format_call(self.tool or '?', self.arguments)}" + (
            made if self.calls else ""
        )


def format_call(name: str, arguments: Mapping[str, Any] | None, *, width: int = 400) -> str:
    """``send_email(to='a@b.c', subject='hi')``. A name that is not an identifier is shown
    quoted (``**{'x\\n': 1}``: a program picks the names a schema leaves open, and a line
    break in one could draw a line of its own); a value longer than `width` characters keeps
    its start and its end, with how much was left out between them (what a long command
    does at its end is what matters most)."""
    parts, extra = [], []
    for key, value in (arguments or {}).items():
        shown = repr(value)
        if len(shown) > width:
            half = width // 2
            shown = f"{shown[:half]} ...[{len(shown) - 2 * half:,} characters]... {shown[-half:]}"
        if isinstance(key, str) and key.isidentifier() and len(key) <= 100:
            parts.append(f"{key}={shown}")
        else:
            extra.append(f"{_cut(repr(key), 100)}: {shown}")
    if extra:
        parts.append(f"**{{{', '.join(extra)}}}")
    return f"{name}({', '.join(parts)})"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass(frozen=True)
class Approval:
    """A handler's answer. `grants` (for a block) pre-approves calls: ``{"send_email": 2}``;
    None as a count means any number of calls. `by` names who decided, for a handler that
    answers on someone else's behalf (the audit shows the handler's own name otherwise).
    `loops` (a block in scope ``"plan"``, without `grants`): a call site of the plan in a
    loop, comprehension or function grants every call it makes, not one
    (`codeact.calls.site_grants`)."""

    approved: bool
    reason: str | None = None
    grants: Mapping[str, int | None] | None = None
    by: str | None = None
    loops: bool = False

    @classmethod
    def approve(
        cls,
        reason: str | None = None,
        *,
        grants: Mapping[str, int | None] | None = None,
        by: str | None = None,
        loops: bool = False,
    ) -> Approval:
        return cls(True, reason, grants, by, loops)

    @classmethod
    def deny(cls, reason: str | None = None, *, by: str | None = None) -> Approval:
        return cls(False, reason, by=by)


#: A handler may be async or a plain function (its answer is awaited only if it is awaitable).
ApprovalHandler: TypeAlias = Callable[
    [ApprovalRequest], 'Awaitable["Approval | bool"] | Approval | bool'
]


def handler_name(handler: object) -> str:
    name = getattr(handler, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(handler, "__name__", None) or type(handler).__name__


class Approver:
    """Asks a handler, with a timeout; a timeout or a failing handler is a denial."""

    def __init__(self, handler: ApprovalHandler | None, *, timeout: float | None) -> None:
        if handler is not None and not callable(handler):
            raise ConfigurationError(
                f"approval_handler must be an async callable (request) -> bool, got {handler!r}"
            )
        if timeout is not None and not is_positive_seconds(timeout):
            raise ConfigurationError(
                f"approval_timeout must be positive seconds or None, got {timeout!r}"
            )
        self.handler = handler
        self.timeout = timeout
        #: How to configure a handler, in the denial of a gated call when there is none (a
        #: `codeact.ray.CodeActPool` names its own option here).
        self.advice = "pass approval_handler= to CodeAct, or --approve to the codeact CLI"

    async def ask(
        self,
        request: ApprovalRequest,
        program: ProgramContext | None = None,
        *,
        watcher: CallWatcher | None = None,
        record: ToolCallRecord | None = None,
    ) -> tuple[Approval, str, float]:
        """(answer, who answered, milliseconds waited). The wait is told to `watcher` (by
        default `program`'s) as `record`'s, the call asked about (a block's has none): two
        calls of one tool waiting at once are two waits, each its own call's. A block's,
        asked before the program runs, is not one of the program's requests
        (`Limits.approval_denials`), but its trace shows it all the same."""
        handler = self.handler
        if handler is None:
            reason = f"no approval handler is configured ({self.advice})"
            return Approval(False, reason), "none", 0.0
        name = handler_name(handler)
        # A program's approvals are capped in number and in total wait (see `Limits`):
        # past either, the program is stopped (a loop that asks again after each denial).
        left = await program.approval_starts() if program is not None else None
        timeout = self.timeout if left is None else min(left, self.timeout or left)
        started = time.monotonic()
        started_ns = time.time_ns()
        timed_out = False
        approval = Approval(False, "the approval was cancelled")
        waiting = program.person_deciding() if program is not None else contextlib.nullcontext()
        try:
            with waiting:
                try:
                    answer = await asyncio.wait_for(invoke_handler(handler, request), timeout)
                except asyncio.TimeoutError:
                    timed_out = True
                    approval = Approval(
                        False, f"no answer within {self.timeout:g}s (approval timeout)"
                    )
                except Exception as exc:
                    # What a handler raises is the host's (a webhook's URL, a token): the
                    # program and the record get its type, the host's log all of it.
                    _log.warning("codeact: approval handler %s failed", name, exc_info=True)
                    kind = exc.type_name if isinstance(exc, ToolRaised) else type(exc).__name__
                    approval = Approval(False, f"the approval handler failed ({kind})")
                else:
                    approval = coerce_approval(answer)
        finally:
            if program is not None:
                program.approval_ended(time.monotonic() - started, approved=approval.approved)
        by = approval.by or name
        if watcher is None and program is not None:
            watcher = program.watcher
        if watcher is not None and (record is not None or request.kind == "block"):
            watcher.approval_waited(record, started_ns, time.time_ns(), approval.approved, by)
        if program is not None:
            stop = program.approval_overdue() if timed_out else None
            if stop is not None:  # the wait was cut short by Limits.approval_wait
                raise stop
        return approval, by, (time.monotonic() - started) * 1000


async def invoke_handler(handler: ApprovalHandler, request: ApprovalRequest) -> Any:
    """Ask `handler` about `request`: its answer, awaited if it is awaitable (a handler may be
    a plain function, run on a worker thread, or a coroutine function; every place that asks
    one goes through here).

    A `BaseException` it raises that is not this task's cancellation (SystemExit, say) comes
    out as `ToolRaised`, a failed handler, guarded as a tool is (`call.awaited`): raised in
    the task asking (which
    `asyncio.wait_for` makes before Python 3.12), asyncio would re-raise it out of the event
    loop, and `execute_sync`'s loop thread would end under its caller."""
    return await awaited(_answer_of(handler, request))


async def _answer_of(handler: ApprovalHandler, request: ApprovalRequest) -> Any:
    if _is_async(handler):
        answer: Any = handler(request)
    else:
        # A plain function may block (a person at a prompt, a request to a service): on a
        # worker thread, so the event loop goes on (other programs, interrupts) and
        # `approval_timeout` can end the wait. It blocked the loop for as long as it took.
        answer = await _on_own_thread(handler, request)
    if inspect.isawaitable(answer):
        answer = await answer
    return answer


async def _on_own_thread(handler: Any, request: ApprovalRequest) -> Any:
    """`handler(request)` on a daemon thread of its own (in a copy of this context): one that
    outlives its timeout holds no worker of the loop's default executor (six of them starved
    every later question) and does not hold up `asyncio.run`'s end."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)

    def run() -> None:
        try:
            value, error = context.run(handler, request), None
        except BaseException as exc:  # handed to the asking task, which decides
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    threading.Thread(target=run, name="codeact-approval", daemon=True).start()
    return await future


def _is_async(handler: Any) -> bool:
    """Whether calling `handler` gives a coroutine: an async function, or an object whose
    ``__call__`` is one (codeact's own handlers, `DeferredApprovals`...)."""
    call = type(handler).__dict__.get("__call__") or getattr(type(handler), "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def coerce_approval(answer: Any) -> Approval:
    """A handler's answer as an `Approval`: True, False or an Approval; anything else is a
    denial that says what the handler returned."""
    if isinstance(answer, Approval):
        return answer
    if isinstance(answer, bool):
        return Approval(answer)
    _log.warning("codeact: an approval handler returned %r", answer)
    return Approval(
        False,
        f"the approval handler returned a {type(answer).__name__}; it must return True, False "
        "or an Approval",
    )


class ApprovalGate(Middleware):
    """The built-in middleware, innermost in every chain: gated tools wait for an approval."""

    name = "approval"

    def __init__(self, approver: Approver) -> None:
        self.approver = approver

    def applies(self, call: ToolInvocation) -> bool:
        return call.tool.approval_mode == "always_require"

    async def __call__(self, call: ToolInvocation, call_next: CallNext) -> Any:
        program = call.program
        if program is not None and program.take_grant(call.name, call.arguments):
            call.decide("preapproved", handler="grant", reason="approved with the block")
            return await call_next(call)
        request = ApprovalRequest(
            kind="call",
            tool=call.name,
            arguments=dict(call.arguments),
            code=call.code,
            calls=call.calls_so_far,
            origin=call.origin,
        )
        approval, name, waited = await self.approver.ask(request, program, record=call.record)
        call.approval_ms += waited
        if not approval.approved:
            reason = approval.reason or "not approved"
            call.decide("denied", handler=name, reason=reason)
            raise CallDenied(reason, by=name)
        call.decide("approved", handler=name, reason=approval.reason)
        return await call_next(call)
