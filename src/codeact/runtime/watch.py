"""`ExecutionWatch`: who is told about one execution as it runs (its trace, its listeners).

It is the program's `CallWatcher` and the output's listener; an execution nobody watches
has none, and pays nothing.
"""

from __future__ import annotations

from ..bridge.protocol import ToolCallRecord
from .events import EventSink
from .tracing import ExecutionTrace

__all__ = ["ExecutionWatch"]


class ExecutionWatch:
    """Forwards each call and each piece of output to the trace and the event sink."""

    def __init__(self, trace: ExecutionTrace | None, sink: EventSink | None) -> None:
        self.trace = trace
        self.sink = sink

    def call_started(self, record: ToolCallRecord) -> None:
        if self.trace is not None:
            self.trace.call_started(record)
        if self.sink is not None:
            self.sink.call_started(record)

    def call_ended(self, record: ToolCallRecord, result: str | None) -> None:
        if self.trace is not None:
            self.trace.call_ended(record, result)
        if self.sink is not None:
            self.sink.call_ended(record, result)

    def approval_waited(
        self, call: ToolCallRecord | None, started_ns: int, ended_ns: int, approved: bool, by: str
    ) -> None:
        if self.trace is not None:
            self.trace.approval_waited(call, started_ns, ended_ns, approved, by)

    def output(self, stream: int, text: str) -> None:
        if self.sink is not None:
            self.sink.output(stream, text)
