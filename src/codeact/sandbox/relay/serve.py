"""`Relay`: serve one program running in another process until it reports, dies or is stopped.

The program's process sends tool calls and HTTP requests as frames (see `guest/wire.py`
for the wire format) and writes its output to two pipes. The relay answers through the
`ToolChannel`, hands the output to it (the channel caps it), and enforces the wall time (and
the disk use of /output) by killing the process: it never waits on the program's
good will. Every frame is checked; anything malformed ends the run as a protocol violation.
"""

from __future__ import annotations

import codecs
import os
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ...bridge import stops
from ...bridge.protocol import (
    ExecutionStopped,
    GuestError,
    RunOutcome,
    Stop,
    ToolChannel,
    report_too_large,
)
from ...bridge.state import StateCarry, report_allowance
from ...policy.limits import Limits
from ..guest.wire import FrameReader, FrameTooLarge, ProtocolError, encode_frame, encode_raw_frame

__all__ = ["Relay", "describe_exit"]

_REPORT_SLACK = 64 * 1024
_FRAME_SLACK = 64 * 1024  # a frame's kind, a tool's name, the JSON around them
#: An HTTP request's frame: its body (NetworkLimits.max_request_bytes, checked by the egress)
#: travels base64-encoded; the frame is decoded flat (strings only) whatever its size.
_HTTP_FRAME = 64 * 1024 * 1024
_EXIT_GRACE = 2.0  # seconds a process that reported (or was killed) gets to close its pipes
#: Seconds between two calls of a relay's `watch` (its costly part is rarer: jail/disk_watch.py).
WATCH_SECONDS = 0.02


class Relay:
    """The host end of one run. `kill` ends the program's process; `exit_status(timeout)`
    returns its wait status once known (or None)."""

    def __init__(
        self,
        *,
        sock: socket.socket,
        stdout_fd: int,
        stderr_fd: int,
        channel: ToolChannel,
        limits: Limits,
        kill: Callable[[], None],
        exit_status: Callable[[float], int | None],
        watch: Callable[[], Stop | None] | None = None,
        state: StateCarry | None = None,
    ) -> None:
        self.sock = sock
        self.channel = channel
        self.limits = limits
        self._kill = kill
        self._exit_status = exit_status
        self._watch = watch  # asked every WATCH_SECONDS while the program runs
        # First one period in: at the start there is nothing to find, and a check there (a
        # folder walked, the child's descriptors read) only costs every fresh run.
        self._next_watch = time.monotonic() + WATCH_SECONDS
        self._pipes = {stdout_fd: 1, stderr_fd: 2}
        self._decoders = {
            fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in self._pipes
        }
        self.state = state  # a session's run: its report may carry the new state
        # Each kind of frame has its limit, checked on its length prefix before it is read:
        # a call carries at most Limits.tool_argument_bytes of JSON (escaped once more in
        # the frame: at most twice as long), a report the output and value.
        call_frame = 2 * limits.tool_argument_bytes + _FRAME_SLACK
        kinds = {
            "c": call_frame,
            "s": call_frame,
            "h": _HTTP_FRAME,
            "r": 2 * limits.output_bytes + _REPORT_SLACK + report_allowance(state),
            "x": _REPORT_SLACK,
        }
        if state is not None:  # the new state may come as a raw frame, before the report
            kinds["raw"] = state.limit + 1
        self._frames = FrameReader(max_frame=_FRAME_SLACK, kind_limits=kinds)
        self.report: str | None = None
        self.program_report: str | None = None  # a session program's, before its state is saved
        self.raw_state: bytes | None = None
        self.stop: Stop | None = None
        self.failure: str | None = None
        self.fatal: str | None = None
        self._killed = False
        self._closing_at: float | None = None  # when the process must have closed everything
        self._status: int | None = None
        self._lock = threading.Lock()

    @property
    def finished_cleanly(self) -> bool:
        """The program reported and its process was never killed (it may serve another)."""
        return self.report is not None and not self._killed

    # -- control from other threads ----------------------------------------------------------
    def cancel(self) -> None:
        """Stop the program now (the awaiting task was cancelled)."""
        self._end(stop=stops.cancelled())

    def _end(self, *, stop: Stop | None = None, failure: str | None = None) -> None:
        with self._lock:
            if stop is not None and self.stop is None and self.failure is None:
                self.stop = stop
            if failure is not None and self.stop is None and self.failure is None:
                self.failure = failure
            first = not self._killed
            self._killed = True
        if first:
            self._kill()
            self._closing_at = time.monotonic() + _EXIT_GRACE

    # -- serving ------------------------------------------------------------------------------
    def serve(self, request: Any) -> RunOutcome:
        """Send `request` (the first frame) and serve the program until it is over."""
        selector = selectors.DefaultSelector()
        try:
            self.sock.sendall(encode_frame(request))
        except OSError:
            pass  # the process is already gone: its exit status says why
        selector.register(self.sock, selectors.EVENT_READ)
        for fd in self._pipes:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        try:
            while selector.get_map():
                if self.report is not None or self.fatal is not None:
                    # Every write the program made is in the pipes by now: take what is
                    # there and leave the process to end (its owner kills it anyway).
                    for fd in list(self._pipes):
                        if fd in selector.get_map():
                            self._drain_pipe(fd)
                    break
                if not self._killed and time.monotonic() >= self.channel.deadline:
                    self._end(stop=stops.wall_time(self.limits))
                if not self._killed and self._watch is not None:
                    self._check_watch()
                if self._closing_at is not None and time.monotonic() >= self._closing_at:
                    if self._killed:
                        break  # even a killed process keeps its ends open: give up on them
                    self._end()  # it reported but does not exit: make it
                for key, _ in selector.select(self._next_timeout()):
                    if key.fileobj is self.sock:
                        self._read_channel(selector)
                    else:
                        self._read_pipe(selector, key.fd)
        finally:
            selector.close()
            self._finish_decoding()
        if self.report is None and self.fatal is None and not self._killed:
            # Every end is closed but nothing was reported: either the process died (its
            # status says how) or the program closed its descriptors and runs on.
            self._status = self._exit_status(0.5)
            if self._status is None:
                self._end(failure="the program closed its channel to the host and was stopped")
        return self._outcome()

    def _check_watch(self) -> None:
        now = time.monotonic()
        if now < self._next_watch or self._watch is None:
            return
        self._next_watch = now + WATCH_SECONDS
        stop = self._watch()
        if stop is not None:
            self._end(stop=stop)

    def _next_timeout(self) -> float:
        now = time.monotonic()
        if self._closing_at is not None:
            return max(0.0, self._closing_at - now)
        timeout = max(0.0, self.channel.deadline - now) + 0.001
        if self._watch is not None:
            timeout = min(timeout, max(0.0, self._next_watch - now))
        return timeout

    def _read_pipe(self, selector: selectors.BaseSelector, fd: int) -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            selector.unregister(fd)
            return
        self.channel.write_output(self._pipes[fd], self._decoders[fd].decode(data))

    def _drain_pipe(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:  # BlockingIOError: empty for now
                return
            if not data:
                return
            self.channel.write_output(self._pipes[fd], self._decoders[fd].decode(data))

    def _finish_decoding(self) -> None:
        for fd, stream in self._pipes.items():
            self.channel.write_output(stream, self._decoders[fd].decode(b"", final=True))

    def _read_channel(self, selector: selectors.BaseSelector) -> None:
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            selector.unregister(self.sock)
            return
        if self._killed:
            return  # whatever a stopped program still says does not matter
        try:
            for frame in self._frames.feed(data):
                self._handle(frame)
                if self._killed:
                    return
        except FrameTooLarge as exc:
            if exc.head.startswith(b'["r", "'):  # a report (its text): its error may be huge
                head = exc.head.decode("utf-8", "replace")
                self._end(failure=report_too_large(exc.size, exc.limit, head, "bytes"))
            else:
                self._end(failure=f"the sandbox broke the channel protocol: {exc}")
        except ProtocolError as exc:
            self._end(failure=f"the sandbox broke the channel protocol: {exc}")
        except ExecutionStopped as exc:
            self._end(stop=Stop(exc.limit, exc.message))
        except BaseException as exc:  # a relay's thread must end the run, never die with it
            self._end(failure=f"the host failed serving the program: {_describe(exc)}")

    def _reply(self, message: Any) -> None:
        try:
            self.sock.sendall(encode_frame(message))
        except OSError:
            pass  # the process died; its end of file arrives next

    def _handle(self, frame: Any) -> None:
        if isinstance(frame, bytes):  # a session's new state (only allowed for one)
            if self.raw_state is not None or self.report is not None:
                raise ProtocolError("a state frame arrived twice or after the report")
            self.raw_state = frame
            return
        if not isinstance(frame, list) or not frame or not isinstance(frame[0], str):
            raise ProtocolError("a frame was not a list starting with its kind")
        kind = frame[0]
        if self.report is not None:
            raise ProtocolError("a frame arrived after the report")
        if kind in ("c", "s", "w", "h"):
            # The runner writes its output before it sends a call, but the pipes and the
            # socket race here: take what is in the pipes first, so output printed before a
            # call reaches the host even if the call blocks this thread (a hung sync tool).
            for fd in self._pipes:
                self._drain_pipe(fd)
        if kind in ("c", "s"):
            name, args = _strings(frame, 3)
            if kind == "c":
                ok, payload = self.channel.call(name, args)
                self._reply([ok, payload])
            else:
                started = self.channel.start(name, args)
                if isinstance(started, int):
                    self._reply([True, started])
                else:
                    self._reply([False, started[1]])
        elif kind == "w":
            if len(frame) != 2 or not isinstance(frame[1], int) or isinstance(frame[1], bool):
                raise ProtocolError("a wait frame needs an integer timeout")
            remaining = max(0.0, self.channel.deadline - time.monotonic())
            timeout = remaining if frame[1] < 0 else min(frame[1] / 1000, remaining)
            done = self.channel.wait(timeout)
            self._reply([[call_id, ok, payload] for call_id, (ok, payload) in done])
        elif kind == "h":
            (request_json,) = _strings(frame, 2)
            ok, payload = self.channel.http_request(request_json)
            self._reply([ok, payload])
        elif kind == "g":  # bytes of the session's state, which the guest did not get whole
            piece = None
            if self.state is not None and len(frame) == 3:
                piece = self.state.piece(frame[1], frame[2])
            if piece is None:
                raise ProtocolError("a state frame asked for bytes the session does not have")
            try:
                self.sock.sendall(encode_raw_frame(piece))
            except OSError:
                pass
        elif kind == "d":  # the runner's running total of output bytes it dropped
            (count,) = _strings(frame, 2)
            self.channel.write_output(3, count)
        elif kind == "p":  # a session program's report, before its state is saved
            (self.program_report,) = _strings(frame, 2)
        elif kind == "r":
            (self.report,) = _strings(frame, 2)
        elif kind == "x":
            (self.fatal,) = _strings(frame, 2)
        else:
            raise ProtocolError(f"unknown frame kind {kind[:20]!r}")

    # -- the outcome ----------------------------------------------------------------------------
    def _outcome(self) -> RunOutcome:
        if self.stop is not None:
            outcome = RunOutcome(stop=self.stop)
        elif self.failure is not None:
            outcome = RunOutcome(error=GuestError("SandboxError", self.failure))
        elif self.report is not None:
            limit = self.limits.output_bytes * 2 + _REPORT_SLACK
            report = self.report
            if self.raw_state is not None and self.state is not None:
                report = report.partition("\x00")[0] + "\x00" + self.raw_state.decode("latin-1")
            outcome = RunOutcome.from_guest_json(report, max_chars=limit, state=self.state)
        elif self.fatal is not None:
            outcome = RunOutcome(error=GuestError("SandboxError", self.fatal))
        else:
            status = self._status if self._status is not None else self._exit_status(_EXIT_GRACE)
            outcome = describe_exit(status, self.limits)
        if self.report is None and self.program_report is not None and self.state is not None:
            limit = self.limits.output_bytes * 2 + _REPORT_SLACK
            outcome = RunOutcome.unsaved(self.program_report, outcome, max_chars=limit)
        return outcome


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"[:2000]
    except BaseException:  # a hostile __str__
        return type(exc).__name__


def _strings(frame: list[Any], size: int) -> list[str]:
    if len(frame) != size or not all(isinstance(part, str) for part in frame[1:]):
        raise ProtocolError(f"a {frame[0]!r} frame needs {size - 1} strings")
    return frame[1:]


def describe_exit(status: int | None, limits: Limits) -> RunOutcome:
    """What to tell about a process that ended without a report, from its wait status."""
    if status is None:
        return RunOutcome(
            error=GuestError("SandboxError", "the sandbox ended without a report (status unknown)")
        )
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = _signal_name(sig)
        if sig == signal.SIGXCPU:
            return RunOutcome(stop=stops.cpu_time(name))
        if sig == signal.SIGKILL:
            # The host's own kills (the wall time) are reported before we get here, and the
            # memory limit makes allocations fail with MemoryError instead of a kill.
            return RunOutcome(
                error=GuestError(
                    "Killed",
                    f"the program's process was killed ({name}): by the program itself, or "
                    "by the system's out-of-memory killer",
                )
            )
        if sig == signal.SIGABRT:
            return RunOutcome(stop=stops.memory(limits, f"died ({name})"))
        if sig in (signal.SIGSEGV, signal.SIGBUS):
            return RunOutcome(
                error=GuestError(
                    "InterpreterCrash",
                    f"the program's interpreter crashed ({name}): a native call went wrong "
                    "or the C stack overflowed",
                )
            )
        if sig == signal.SIGSYS:
            return RunOutcome(
                error=GuestError(
                    "SandboxViolation", "the program made a forbidden system call and was killed"
                )
            )
        return RunOutcome(
            error=GuestError("Killed", f"the program's process was ended by signal {name}")
        )
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code == 0:
        return RunOutcome()
    return RunOutcome(
        error=GuestError(
            "SystemExit", f"the program ended its process with exit status {code} (os._exit)"
        )
    )


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
