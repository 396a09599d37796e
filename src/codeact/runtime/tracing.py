"""OpenTelemetry traces and metrics of executions, after the GenAI semantic conventions.

Optional: nothing here imports OpenTelemetry unless the application already did (it set up a
tracer provider, so ``opentelemetry.trace`` is loaded) or passed a provider to `CodeAct`.
Without it, an execution pays one dictionary lookup.

One execution is a span ``execute_tool execute_code`` (``gen_ai.operation.name`` =
``execute_tool``) that is current while the program runs, so spans a tool makes nest under it.
Each nested tool call is a child span ``execute_tool NAME`` with ``codeact.tool.outcome`` (ok,
error, denied, timeout, ...), an ``exception`` event when it failed, and a child ``approval
NAME`` span for the time a person or handler took to decide. The duration of every call and
execution goes to the histogram ``gen_ai.execute_tool.duration`` (seconds).

Content (the program's code, tool arguments and results, output) is recorded only when
asked: ``CodeAct(capture_content=True)`` or the standard environment variable
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``; it is capped at
`CONTENT_LIMIT` characters, and arguments pass through the same redaction as the audit log.

Names, ids and types that a model, its server or a program chose (a tool's name, a call's id,
a model's name, an error's type) are not content and are always recorded, but through
`name_text`: cut at `NAME_LIMIT` characters, control and invisible characters escaped.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from .._display import finite_json
from ..bridge.protocol import ToolCallRecord
from .span_text import (
    CONTENT_LIMIT,
    NAME_LIMIT,
    NOT_CAPTURED,
    call_error_text,
    call_error_type,
    clip,
    hidden_in,
    name_text,
    redacted,
)

if TYPE_CHECKING:
    from ..policy.limits import Limits
    from .result import ExecutionResult

__all__ = [
    "CONTENT_LIMIT",
    "DURATION_METRIC",
    "NAME_LIMIT",
    "NOT_CAPTURED",
    "ExecutionTrace",
    "call_error_text",
    "call_error_type",
    "capture_content_default",
    "capture_setting",
    "clip",
    "meter_for",
    "name_text",
    "tracer_for",
]

DURATION_METRIC = "gen_ai.execute_tool.duration"
_CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_SCOPE = "codeact"


def capture_content_default() -> bool:
    """Whether content is recorded when `CodeAct(capture_content=None)`: the standard variable."""
    return os.environ.get(_CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes")


def capture_setting(capture_content: bool | None) -> bool:
    """Whether content is recorded: `capture_content` as a CodeAct was given it, else the
    standard variable. Every span codeact makes follows this one setting."""
    return capture_content_default() if capture_content is None else capture_content


def tracer_for(provider: Any = None) -> Any:
    """A tracer, or None when OpenTelemetry is not in use in this process."""
    if provider is not None:
        return provider.get_tracer(_SCOPE, _version())
    if "opentelemetry.trace" not in sys.modules:
        return None
    from opentelemetry import trace

    return trace.get_tracer(_SCOPE, _version())


def meter_for(provider: Any = None) -> Any:
    """A meter, or None when OpenTelemetry metrics are not in use in this process."""
    if provider is not None:
        return provider.get_meter(_SCOPE, _version())
    if "opentelemetry.metrics" not in sys.modules:
        return None
    global _global_meter
    if _global_meter is None:
        # Once: before a provider is set, the API hands out a new proxy meter per call and
        # keeps each one (to bind it later), one more per execution for good.
        from opentelemetry import metrics

        _global_meter = metrics.get_meter(_SCOPE, _version())
    return _global_meter


_global_meter: Any = None


# Each meter's histogram, while the meter lives: the global API gives a new meter per call
# (a proxy until a provider is set), so a table by id() kept one histogram per execution for
# good, and a later meter with a dead one's id got that one's histogram.
_histograms: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_histograms_lock = threading.Lock()


def _duration_histogram(meter: Any) -> Any:
    with _histograms_lock:
        histogram = _histograms.get(meter)
        if histogram is None:
            histogram = meter.create_histogram(
                DURATION_METRIC, unit="s", description="Duration of tool executions"
            )
            try:
                _histograms[meter] = histogram
            except TypeError:  # a meter that cannot be weakly referenced: asked each time
                pass
        return histogram


def _version() -> str:
    from .. import __version__

    return __version__


#: One approval wait: started and ended (ns since the epoch), approved, by whom.
_Wait = tuple[int, int, bool, str]


def _json_text(value: Any) -> str:
    try:
        return json.dumps(finite_json(value), ensure_ascii=False, default=repr, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


class ExecutionTrace:
    """The span of one execution and its nested calls (a `CallWatcher` of the program)."""

    def __init__(
        self,
        tracer: Any,
        meter: Any,
        *,
        call_id: str,
        backend: str,
        limits: Limits,
        code: str,
        capture_content: bool,
    ) -> None:
        from opentelemetry import context, trace

        self._trace = trace
        self._context = context
        self._tracer = tracer
        self._capture = capture_content
        self._code = code if capture_content else None  # recorded redacted, at the end
        self._histogram = _duration_histogram(meter) if meter is not None else None
        self._lock = threading.Lock()
        self._started: dict[int, int] = {}  # id(record) -> start (ns since the epoch)
        # id(record) -> (the record, kept so that its id is not reused; its approval waits)
        self._approvals: dict[int, tuple[ToolCallRecord, list[_Wait]]] = {}
        self._t0 = time.monotonic()
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "execute_code",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": name_text(call_id),
            "codeact.backend": name_text(backend),
            "codeact.limits.wall_time_s": float(limits.wall_time),
            "codeact.limits.memory_mb": int(limits.memory_mb),
            "codeact.limits.tool_calls": int(limits.tool_calls),
            "codeact.limits.output_bytes": int(limits.output_bytes),
        }
        self.span = tracer.start_span(
            "execute_tool execute_code", kind=trace.SpanKind.INTERNAL, attributes=attributes
        )
        self._parent = trace.set_span_in_context(self.span)
        self._token: Any = None

    # -- the span is current while the program runs (tools' own spans nest under it) ---------
    def attach(self) -> None:
        self._token = self._context.attach(self._parent)

    def detach(self) -> None:
        if self._token is not None:
            try:
                self._context.detach(self._token)
            except Exception:  # detached in another context: nothing to restore
                pass
            self._token = None

    # -- CallWatcher --------------------------------------------------------------------------
    def call_started(self, record: ToolCallRecord) -> None:
        with self._lock:
            self._started[id(record)] = time.time_ns()

    def approval_waited(
        self, call: ToolCallRecord | None, started_ns: int, ended_ns: int, approved: bool, by: str
    ) -> None:
        if call is None:  # the whole block, before it ran
            self._approval_span("approval execute_code", self._parent, started_ns, ended_ns,
                                approved, by)  # fmt: skip
            return
        with self._lock:  # this call's own: calls of one tool wait (and end) in any order
            _, waits = self._approvals.setdefault(id(call), (call, []))
            waits.append((started_ns, ended_ns, approved, by))

    def _waits_of(self, record: ToolCallRecord) -> list[_Wait]:
        """The approval waits of `record`'s call (taken: each goes under one span). Locked."""
        return self._approvals.pop(id(record), (record, []))[1]

    def call_ended(self, record: ToolCallRecord, result: str | None = None) -> None:
        now = time.time_ns()
        with self._lock:
            started = self._started.pop(id(record), None)
            waits = self._waits_of(record)
        if started is None:
            started = now - int(record.duration_ms * 1e6)
        self.call_span(record, started, now, waits, result)

    def call_span(
        self,
        record: ToolCallRecord,
        started_ns: int,
        ended_ns: int,
        waits: list[_Wait] | None = None,
        result: str | None = None,
    ) -> None:
        """A finished call's span, with its approval waits as children."""
        trace = self._trace
        name = name_text(record.name)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
            "codeact.tool.outcome": record.outcome,
            "codeact.tool.origin": record.origin,
            "codeact.tool.decision": record.decision,
        }
        if record.run_id:
            attributes["codeact.run_id"] = name_text(record.run_id)
        if record.handler:
            attributes["codeact.tool.decided_by"] = name_text(record.handler)
        if self._capture:
            attributes["gen_ai.tool.call.arguments"] = clip(_json_text(record.arguments))
            if result is not None:  # may echo what the redaction hid in the arguments
                attributes["gen_ai.tool.call.result"] = redacted(result, record._hidden)
        span = self._tracer.start_span(
            f"execute_tool {name}",
            context=self._parent,
            kind=trace.SpanKind.INTERNAL,
            attributes=attributes,
            start_time=started_ns,
        )
        call_context = trace.set_span_in_context(span)
        for begun, ended, approved, by in waits or ():
            self._approval_span(f"approval {name}", call_context, begun, ended,
                                approved, by)  # fmt: skip
        if record.outcome != "ok":
            message = call_error_text(record, capture=self._capture)
            span.set_attribute("error.type", call_error_type(record))
            span.add_event(
                "exception",
                {"exception.type": call_error_type(record), "exception.message": message},
                timestamp=ended_ns,
            )
            span.set_status(trace.Status(trace.StatusCode.ERROR, clip(message, 256)))
        span.end(end_time=ended_ns)
        self._measure(name, (ended_ns - started_ns) / 1e9, record.outcome)

    def _approval_span(
        self, name: str, parent: Any, started_ns: int, ended_ns: int, approved: bool, by: str
    ) -> None:
        span = self._tracer.start_span(
            name,
            context=parent,
            attributes={
                "codeact.approval.approved": approved,
                "codeact.approval.by": name_text(by),
            },
            start_time=started_ns,
        )
        span.end(end_time=ended_ns)

    def _measure(self, tool: str, seconds: float, outcome: str) -> None:
        if self._histogram is not None:
            self._histogram.record(
                seconds, {"gen_ai.tool.name": tool, "codeact.tool.outcome": outcome}
            )

    # -- the end ------------------------------------------------------------------------------
    def finish(self, result: ExecutionResult | None, exc: BaseException | None = None) -> None:
        """Close the execution's span with what happened (and any calls still open)."""
        trace = self._trace
        span = self.span
        with self._lock:
            left = list(self._started.items())
            self._started.clear()
            waits = {key: call_waits for key, (_, call_waits) in self._approvals.items()}
            self._approvals.clear()
        now = time.time_ns()
        # What the redaction hid in the calls' arguments, the program may have had too (read
        # from a file, say) and quoted: its code, output and exception are hidden the same way.
        hidden = hidden_in(result.tool_calls) if result is not None else ()
        if self._code is not None:
            span.set_attribute("gen_ai.tool.call.arguments", redacted(self._code, hidden))
        if result is not None:
            by_id = {id(r): r for r in result.tool_calls}
            for key, started in left:
                record = by_id.get(key)
                if record is not None:
                    self.call_span(record, started, now, waits.get(key))
            outcome = _outcome(result)
            span.set_attribute("codeact.outcome", outcome)
            span.set_attribute("codeact.tool_calls", len(result.tool_calls))
            span.set_attribute(
                "codeact.output_bytes",
                len(result.stdout.encode("utf-8", "replace"))
                + len(result.stderr.encode("utf-8", "replace")),
            )
            if result.output_truncated:
                span.set_attribute("codeact.output_truncated_bytes", result.output_truncated)
            for name, ms in result.timings.items():
                span.set_attribute(f"codeact.timings.{name}", float(ms))
            if self._capture:
                span.set_attribute("gen_ai.tool.call.result", redacted(result.stdout, hidden))
            error = result.error
            if error is not None:
                # The program's own exception is content (it may quote anything the program
                # had); a limit's message is codeact's, but a MemoryError's (the memory limit,
                # as the program meets it) begins with what the program gave it.
                own = error.type == "LimitExceeded"
                shown = error.message if self._capture or own else NOT_CAPTURED
                if error.limit is not None:  # stopped by a limit: which one, and why
                    span.set_attribute("codeact.stop.limit", name_text(error.limit))
                    span.set_attribute("codeact.stop.reason", redacted(shown, hidden, 512))
                # The semantic conventions' error.type: set whenever the operation failed.
                kind = name_text(error.type)  # the class a program raised: its name is its own
                span.set_attribute("error.type", kind)
                span.add_event(
                    "exception",
                    {"exception.type": kind, "exception.message": redacted(shown, hidden, 1024)},
                )
                span.set_status(trace.Status(trace.StatusCode.ERROR, redacted(shown, hidden, 256)))
        elif exc is not None:  # no result: the caller cancelled (or interrupted) it
            span.set_attribute("codeact.outcome", "cancelled")
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        span.end()
        self._measure("execute_code", time.monotonic() - self._t0, outcome_of(result, exc))


def outcome_of(result: ExecutionResult | None, exc: BaseException | None) -> str:
    if result is not None:
        return _outcome(result)
    return "cancelled" if exc is not None else "error"


def _outcome(result: ExecutionResult) -> str:
    if result.ok:
        return "ok"
    if result.error is not None and result.error.limit is not None:
        return "stopped"
    if result.error is not None and result.error.type == "ToolDenied" and not result.tool_calls:
        return "denied"
    return "error"
