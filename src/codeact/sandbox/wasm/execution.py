"""`WasmExecution`: the host side of one program running in one guest instance.

It serves the guest's imports (tool calls, waits, sleeps, output), relaying tool calls to the
`ToolChannel` and enforcing the deadline in every place the guest can block: a guest sleep, a
wait for started calls, and (through the epoch callback) plain computation.
"""

from __future__ import annotations

import json
import threading
import time

from ..._nesting import loads_within
from ...bridge import stops
from ...bridge.protocol import PROGRAM_REPORT, ExecutionStopped, Stop, ToolChannel
from ...bridge.state import STATE_READ, StateCarry
from ...policy.limits import Limits
from ...policy.outputs import OutputLimits
from ..artifacts import output_overflow
from .clock import ClockWaitRefused
from .descriptors import OPEN_FILES, Descriptors
from .runtime import ticks_until

__all__ = ["WasmExecution"]


class WasmExecution:
    """Implements `host_imports.HostCalls` for one run."""

    #: Seconds between two looks at the size of /output while the program computes.
    DISK_CHECK_SECONDS = 0.1

    def __init__(
        self,
        channel: ToolChannel,
        limits: Limits,
        output_limits: OutputLimits | None = None,
    ) -> None:
        self.channel = channel
        self.limits = limits
        self.output_limits = output_limits or OutputLimits()
        self.stop: Stop | None = None
        self.refused: str | None = None  # an operation the sandbox refused by trapping
        self.failure: str | None = None
        self.panic: str | None = None  # what the guest's runtime said before it aborted
        self.cancelled = threading.Event()
        self.output_dir: str | None = None  # set by the backend: this run's /output
        #: Set by the backend: the host descriptors under this run's folders.
        self.descriptors: Descriptors | None = None
        self.state: StateCarry | None = None  # set by the backend: a session's state
        #: A session program's report, handed over before its state is saved.
        self.program_report: str | None = None
        self._next_disk_check = 0.0

    # -- control ---------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the program from another thread: host calls and the epoch callback see it."""
        self.cancelled.set()

    def _wall_time_exceeded(self) -> ExecutionStopped:
        return stops.stopping(stops.wall_time(self.limits))

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise stops.stopping(stops.cancelled())
        if time.monotonic() >= self.channel.deadline:
            raise self._wall_time_exceeded()

    # -- HostCalls -------------------------------------------------------------------------
    def dispatch(self, name: str, args_json: str) -> tuple[bool, str]:
        if name == STATE_READ:  # bytes of the session's state, before any tool is looked up
            return self._state_piece(args_json)
        self._check()
        reply = self.channel.call(name, args_json)
        self._check()
        return reply

    def _state_piece(self, args_json: str) -> tuple[bool, str]:
        try:
            offset, length = loads_within(args_json)
        except (ValueError, TypeError):
            return False, "ask for [offset, length]"
        piece = self.state.piece(offset, length) if self.state is not None else None
        if piece is None:
            return False, "those bytes are not in this session's state"
        return True, piece.decode("latin-1")

    def start_call(self, name: str, args_json: str) -> int | str:
        self._check()
        started = self.channel.start(name, args_json)
        if isinstance(started, int):
            return started
        return started[1]

    def wait_calls(self, timeout_ms: int) -> str:
        self._check()
        remaining = self.channel.deadline - time.monotonic()
        timeout = remaining if timeout_ms < 0 else min(timeout_ms / 1000, remaining)
        done = self.channel.wait(max(0.0, timeout))
        if not done:
            self._check()
        return json.dumps([[call_id, ok, payload] for call_id, (ok, payload) in done])

    def sleep(self, ms: int) -> None:
        self._check()
        until = min(time.monotonic() + ms / 1000, self.channel.deadline)
        while True:
            left = until - time.monotonic()
            if left <= 0 or self.cancelled.wait(left):
                break
        self._check()

    def write_output(self, stream: int, text: str) -> None:
        if stream == PROGRAM_REPORT:
            self.program_report = text
            return
        self.channel.write_output(stream, text)

    def http_request(self, request_json: str) -> tuple[bool, str]:
        self._check()
        reply = self.channel.http_request(request_json)
        self._check()
        return reply

    def write_raw(self, stream: int, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        if stream == 2 and self.panic is None and "panicked at" in text:
            # The runtime under the guest's Python (componentize-py's, in Rust) failed and
            # is about to abort: what it says is why the run ends, not a lack of memory.
            self.panic = " ".join(text.split())[:500]
        self.channel.write_output(stream, text)

    def check_time(self) -> int | None:
        """For the epoch callback: ticks until the deadline, or None to stop the guest now."""
        if self.cancelled.is_set():
            if self.stop is None:
                self.stop = stops.cancelled()
            return None
        deadline = self.channel.deadline
        now = time.monotonic()
        if now >= deadline:
            if self.stop is None:
                self.stop = stops.wall_time(self.limits)
            return None
        due = now >= self._next_disk_check
        if due or (self.descriptors is not None and self.descriptors.filling()):
            if due:
                self._next_disk_check = now + self.DISK_CHECK_SECONDS
            stop = self._overflow()
            if stop is not None:
                if self.stop is None:
                    self.stop = stop
                return None
        return ticks_until(deadline)

    def _overflow(self) -> Stop | None:
        """A stop if the program holds more of the host's descriptors than a run may, or
        wrote far past OutputLimits under /output (disk safety). The guest's files are this
        process's descriptors: one it removed from /output and keeps open holds disk that no
        name shows, and counts too (its path names this run's own folder)."""
        removed = 0
        if self.descriptors is not None:
            held, removed = self.descriptors.count()
            if held is None or held > OPEN_FILES:
                return stops.open_files(held, OPEN_FILES)
        if self.output_dir is None:
            return None
        return output_overflow(self.output_dir, self.output_limits, held_open=removed)

    def host_failed(self, exc: BaseException) -> None:
        if isinstance(exc, ClockWaitRefused):
            self.refused = self.refused or str(exc)
        elif isinstance(exc, ExecutionStopped):
            if self.stop is None:
                self.stop = Stop(exc.limit, exc.message)
        elif self.failure is None:
            self.failure = f"{type(exc).__name__}: {exc}"
