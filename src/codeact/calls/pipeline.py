"""`ToolPipeline`: one chain of middlewares for every tool call, nested or direct.

The same object serves the calls a program makes from its code (through `HostBridge`) and
the calls an agent makes directly (`call_direct`), so a policy written once applies to both:

    user middlewares (in the order given) -> approval gate -> the tool

and every call ends as one `ToolCallRecord` with redacted arguments, the decision and who
made it, the duration and the outcome, handed to the audit sink as it finishes. What the
caller gets back and how the record is settled are `codeact.calls.outcome`; the size checks
on arguments and results, `codeact.calls.sizes`; asking about a whole block before it runs,
`codeact.calls.block_approval`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..bridge.protocol import CallErrorKind, CallOrigin, CallOutcome, ToolCallRecord
from ..policy.limits import Limits
from ..tools import ResultConversionError, Tool, ToolArgumentsError, ToolSet
from ..tools.results import ResultConversionTimeout
from .approvals import DEFAULT_APPROVAL_TIMEOUT, ApprovalGate, ApprovalHandler, Approver
from .audit import AuditSink, Redact, Redactor, as_redactor, hidden_values
from .call import (
    CallDenied,
    ProgramContext,
    ToolInvocation,
    ToolRaised,
    ToolTimeout,
    as_exception,
    describe_exception,
    log_tool_failure,
    task_cancelling,
)
from .json_text import loads
from .middleware import Middleware, MiddlewareFn, as_middleware, run_chain
from .outcome import CallResult, denial, settle_record
from .received import as_received
from .result_json import (
    Encoded,
    deadline_of,
    encode_in_thread,
    encode_result,
    fits_on_loop,
    run_timed,
)
from .sizes import ResultTooLarge, bounded_copy, bounded_message, unshared

__all__ = ["DEFAULT_RESULT_BYTES", "ToolPipeline"]

_log = logging.getLogger("codeact.audit")

#: The result cap of direct calls made without a CodeAct's limits (`Limits.tool_result_bytes`).
DEFAULT_RESULT_BYTES = Limits().tool_result_bytes


class ToolPipeline:
    """Middlewares, approvals, redaction and audit shared by every call of one CodeAct.

    Args:
        middleware: Async functions ``(call, call_next)`` or `Middleware` instances, outermost
            first. They see nested and direct calls alike (`call.origin` tells which).
        approval_handler: Asked about every call of a tool with
            ``approval_mode="always_require"`` (see `codeact.calls.approvals`). Without one,
            such calls are denied.
        approval_timeout: Seconds to wait for an answer before denying (None: no limit).
        redact: Argument names to hide in records and logs, or ``(tool, args) -> args``.
        audit: Called with every finished record (e.g. `JsonlAudit("calls.jsonl")`).
    """

    def __init__(
        self,
        *,
        middleware: Iterable[Middleware | MiddlewareFn] = (),
        approval_handler: ApprovalHandler | None = None,
        approval_timeout: float | None = DEFAULT_APPROVAL_TIMEOUT,
        redact: Redactor | Iterable[str] | None = None,
        audit: AuditSink | None = None,
    ) -> None:
        self.middleware: list[Middleware] = [as_middleware(m) for m in middleware]
        self.approver = Approver(approval_handler, timeout=approval_timeout)
        self.redactor = as_redactor(redact)
        # A call's arguments are parsed once, for its record and its tool, unless a redactor
        # of the user's own might change them in place (`Redact` builds a copy).
        self._parse_once = self.redactor is None or type(self.redactor) is Redact
        self.audit = audit
        self._gate = ApprovalGate(self.approver)
        self._chain: list[Middleware] = [*self.middleware, self._gate]
        self._all_sync = all(m.has_sync for m in self.middleware)

    @property
    def approval_handler(self) -> ApprovalHandler | None:
        return self.approver.handler

    def chain_for(self, call: ToolInvocation) -> tuple[list[Middleware], bool]:
        """The middlewares that apply to `call`, and whether all of them can run synchronously."""
        if not self.middleware:  # the common case, on every call: keep it short
            return ([self._gate], False) if self._gate.applies(call) else ([], True)
        chain = [m for m in self._chain if m.applies(call)]
        if self._all_sync and self._gate not in chain:
            return chain, True
        return chain, all(m.has_sync for m in chain)

    def redact(self, name: str, arguments: Any) -> Any:
        """`arguments` as they may be recorded (callers skip this when no redactor is set)."""
        if self.redactor is None:
            return arguments
        try:
            return self.redactor(name, arguments)
        except Exception as exc:  # never record what a broken redactor might have let through
            # Its type only: a redactor's exception may quote the value it was hiding.
            _log.warning("codeact: the redactor failed on %s(): %s", name, type(exc).__name__)
            return "[redaction failed]"

    def emit(self, record: ToolCallRecord) -> None:
        """Hand a finished record to the audit sink (its failures are logged, not raised)."""
        if self.audit is None:
            return
        try:
            self.audit(record)
        except Exception:
            _log.warning("codeact: the audit sink failed", exc_info=True)

    # -- the life of one call: record it, open it, run the chain, close it ----------------------
    def record(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | bytes | None,
        *,
        started_ms: float,
        origin: CallOrigin = "code",
        run_id: str | None = None,
        parse: bool = True,
    ) -> tuple[ToolCallRecord, Any]:
        """The record of a call as it arrives (arguments redacted), and its parsed arguments.

        The record keeps a bounded copy (`bounded_copy`): a call's arguments may be as large
        as `Limits.tool_argument_bytes`, and records live as long as the result. With
        `parse=False` (an unknown tool, arguments over the size limit) the text is not parsed
        at all: the record says how large it was, and the parsed arguments are None."""
        parsed: Any
        hidden: tuple[str, ...] = ()
        if not parse:
            size = len(arguments) if isinstance(arguments, (str, bytes)) else 0
            parsed = None
            shown: Any = f"<{size} characters of arguments, not read>"
        else:
            text_size = None
            if isinstance(arguments, (str, bytes)):
                text_size = len(arguments)
                try:
                    parsed = loads(arguments)
                except (ValueError, RecursionError):  # a program may send any text
                    parsed = arguments
            else:
                parsed = dict(arguments or {})
            if self.redactor:
                redacted = self.redact(name, parsed)
                shown = bounded_copy(redacted)
                hidden = hidden_values(parsed, redacted)
            else:
                shown = bounded_copy(parsed, parsed_from=text_size)
        record = ToolCallRecord(
            name=name,
            arguments=shown,
            started_ms=started_ms,
            origin=origin,
            run_id=run_id,
            _hidden=hidden,
        )
        return record, parsed

    def open(
        self,
        record: ToolCallRecord,
        tool: Tool | ToolSet,
        arguments: Mapping[str, Any] | str | bytes | None,
        parsed: Any,
        *,
        opened: float,
        program: ProgramContext | None = None,
        history: Sequence[ToolCallRecord] = (),
    ) -> ToolInvocation | CallResult:
        """Find the tool (in a `ToolSet`) and validate the arguments: the call, ready for
        `chain_for`, or how it ended (an unknown tool, invalid arguments)."""
        if program is not None and program.watcher is not None:
            program.watcher.call_started(record)
        if isinstance(tool, ToolSet):
            found = tool.get(record.name)
            if found is None:
                message = tool.unknown_message(record.name)
                return self.end(
                    record, "unknown", message, kind="unknown", program=program, opened=opened
                )
            tool = found
        if program is not None and isinstance(arguments, (str, bytes)):
            refused = program.hold_arguments(record, len(arguments))  # until it is settled
            if refused is not None:
                return self.end(
                    record, "refused", refused, kind="error", program=program, opened=opened
                )
        try:
            if isinstance(arguments, (str, bytes)) and parsed is arguments:  # did not parse
                kwargs = tool.validate_json(arguments)
            elif isinstance(arguments, (str, bytes)) and self._parse_once:
                kwargs = tool.validate_parsed(arguments, parsed)  # the record's parse
                if record.arguments is parsed and tool.passes_parse_on:
                    record.arguments = unshared(parsed)  # what the tool may change: not it
            elif isinstance(arguments, (str, bytes)):
                kwargs = tool.validate_json(arguments)
            elif isinstance(parsed, dict):
                kwargs = tool.validate(parsed)
            else:
                raise ToolArgumentsError(f"arguments of {tool.name}() must be an object")
        except ToolArgumentsError as exc:
            return self.end(
                record, "invalid", str(exc), kind="invalid", program=program, opened=opened
            )
        sent = parsed if isinstance(parsed, dict) else {}
        arguments = as_received(sent, kwargs, tool)
        if arguments is not sent:  # what the tool gets differs from what was sent: record that
            redacted = self.redact(record.name, arguments)
            record.arguments = unshared(bounded_copy(redacted))  # unconverted ones: the tool's
            if self.redactor is not None:
                record._hidden += hidden_values(arguments, redacted)
        return ToolInvocation(
            tool=tool,
            arguments=types.MappingProxyType(arguments),
            origin=record.origin,
            record=record,
            kwargs=kwargs,
            program=program,
            history=tuple(history),
            opened=opened,
            on_replaced=self._record_replaced,
        )

    def _record_replaced(self, call: ToolInvocation) -> None:
        """A middleware replaced the call's arguments: the record shows those (redacted), and
        what the redaction hides in them is hidden in the record's messages too."""
        arguments = dict(call.arguments)
        redacted = self.redact(call.name, arguments)
        call.record.arguments = bounded_copy(redacted)
        if self.redactor is not None:
            call.record._hidden += hidden_values(arguments, redacted)

    def close(
        self, call: ToolInvocation, value: Any, *, max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> CallResult:  # fmt: skip
        """Close a call with the tool's value: converted to JSON, or an error if it cannot be.

        With `max_bytes` (`Limits.tool_result_bytes`), a value whose JSON would be larger is
        refused, before it is converted or as soon as its conversion passes it (an iterator
        is consumed no further). With `timeout` (the call's), the conversion counts toward it
        from when the tool started (`encode_result`). What its methods raise fails the call."""
        deadline = deadline_of(call, timeout)
        return self._closed(call, encode_result(call.tool, value, max_bytes, deadline), timeout)

    async def close_async(
        self, call: ToolInvocation, value: Any, *, max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> CallResult:  # fmt: skip
        """`close` on the event loop: a value not small and plain is converted in a thread."""
        if fits_on_loop(value):
            return self.close(call, value, max_bytes=max_bytes, timeout=timeout)
        deadline = deadline_of(call, timeout)
        encode = functools.partial(encode_result, call.tool, value, max_bytes, deadline)
        try:
            encoded = await encode_in_thread(encode, deadline)
        except asyncio.CancelledError as exc:
            self.fail(call, exc)
            raise
        return self._closed(call, encoded, timeout)

    def _closed(self, call: ToolInvocation, encoded: Encoded, timeout: float | None) -> CallResult:
        if isinstance(encoded, ResultConversionTimeout):
            return self.fail(call, ToolTimeout(timeout or 0.0))
        if isinstance(encoded, Exception):
            return self.fail(call, encoded)
        result, text = encoded
        end = self.end(call.record, "ok", None, call=call, encoded=text)
        end.value, end.encoded = result, text
        return end

    def fail(self, call: ToolInvocation, exc: BaseException) -> CallResult:
        """Close a call with the exception that ended it: its outcome, kind and message."""
        name = call.name
        if isinstance(exc, CallDenied):
            message = denial(name, exc.reason, "denied")
            return self.end(
                call.record, "denied", exc.reason, kind="denied", call=call, message=message,
                denied_by=exc.by,
            )  # fmt: skip
        if isinstance(exc, ToolArgumentsError):
            return self.end(call.record, "invalid", str(exc), kind="invalid", call=call)
        if isinstance(exc, ToolTimeout):
            return self.end(call.record, "timeout", f"{name}() {exc}", call=call)
        if isinstance(exc, asyncio.CancelledError):
            return self.end(call.record, "cancelled", "cancelled", call=call)
        if isinstance(exc, ResultTooLarge):
            return self.end(call.record, "error", str(exc), call=call)
        if isinstance(exc, ResultConversionError):
            message = f"{name}() returned a value that cannot be sent back: {exc}"
            return self.end(call.record, "error", message, call=call)
        log_tool_failure(name, exc)
        return self.end(call.record, "error", describe_exception(exc), call=call)

    def end(
        self,
        record: ToolCallRecord,
        outcome: CallOutcome,
        error: str | None,
        *,
        kind: CallErrorKind = "error",
        call: ToolInvocation | None = None,
        program: ProgramContext | None = None,
        opened: float = 0.0,
        message: str | None = None,
        denied_by: str | None = None,
        encoded: str | None = None,
    ) -> CallResult:
        """Settle the record (once per program: a call a limit already ended stays as it was)
        and hand it to the audit sink. `error` goes in the record, `message` (default: `error`)
        to the caller. Without `call`, `opened` is when the call began (`time.monotonic()`).
        `encoded` (the value as JSON) is shown to a watcher of the program."""
        ok = outcome == "ok"
        if error is not None:
            error = bounded_message(error)
        if message is not None:
            message = bounded_message(message)
        result = CallResult(ok, record, error_kind=None if ok else kind, error=message or error)
        if call is not None:
            program, opened = call.program, call.opened
        if program is not None and not program.settle_once(record):
            return result
        settle_record(record, call, outcome, error, opened, denied_by=denied_by)
        if self.audit is not None:
            self.emit(record)
        if program is not None and program.watcher is not None:
            program.watcher.call_ended(record, encoded)
        return result

    async def call_direct(
        self,
        tool: Tool,
        arguments: Mapping[str, Any] | str | bytes | None = None,
        *,
        history: Sequence[ToolCallRecord] = (),
        timeout: float = 30.0,
        started: float | None = None,
        run_id: str | None = None,
        max_result_bytes: int | None = DEFAULT_RESULT_BYTES,
    ) -> CallResult:
        """Call `tool` directly (not from a program) through the same middleware and audit.

        `arguments` as a mapping or as JSON text (what a model sent). `history` is the calls
        made so far in the agent's run (shown to approval handlers); `timeout` applies when
        the tool has none of its own; `started` (a `time.monotonic()` value) is where the
        record's `started_ms` counts from. Never raises for the tool's own failures.
        """
        t0 = time.monotonic()
        since = (t0 - started) * 1000 if started is not None else 0.0
        record, parsed = self.record(
            tool.name, arguments, started_ms=since, origin="direct", run_id=run_id
        )
        call = self.open(record, tool, arguments, parsed, opened=t0, history=history)
        return await self.run_direct(call, timeout, max_result_bytes=max_result_bytes)

    async def run_direct(
        self,
        call: ToolInvocation | CallResult,
        timeout: float,
        *,
        max_result_bytes: int | None = DEFAULT_RESULT_BYTES,
    ) -> CallResult:
        """Run an opened direct call through the chain and close it (`timeout` applies when
        the tool has none of its own). Whatever the tool or a middleware raises ends the call,
        SystemExit and KeyboardInterrupt included; only this task's cancellation goes on."""
        if isinstance(call, CallResult):
            return call
        chain, _ = self.chain_for(call)
        limit = call.tool.timeout if call.tool.timeout is not None else timeout
        try:
            value = await run_chain(call, chain, lambda c: run_timed(c, limit))
        except asyncio.CancelledError as exc:
            if task_cancelling():
                self.fail(call, exc)
                raise
            return self.fail(call, ToolRaised(exc))
        except BaseException as exc:  # the pipeline's boundary
            return self.fail(call, as_exception(exc))
        return await self.close_async(call, value, max_bytes=max_result_bytes, timeout=limit)
