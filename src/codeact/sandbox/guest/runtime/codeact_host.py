"""The guest's link to its host: the backend's glue object and the program's output.

`HOST` is the glue a backend hands to ``codeact_runner.install`` (its interface is described
in codeact_runner); `WarmupHost` is the one the runner's own warm-up runs against. `OUTPUT`
holds what the running program printed, capped, and hands it to the host as it goes (what
sys.stdout and sys.stderr are, which write to it, is codeact_streams). `restoring` is the
guard around what a session's restore runs again: nothing reaches outside the sandbox, and it
has a deadline.

Runs inside the sandbox; imports only the standard library.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "HOST",
    "OUTPUT",
    "PROGRAM_REPORT",
    "STATE_READ",
    "OutOfTime",
    "Output",
    "Refused",
    "WarmupHost",
    "hand_over_program_report",
    "restoring",
]

HOST: Any = None  # the backend's glue object; set by codeact_runner.install()
#: The stream of `HOST.write_output` that carries a session program's own report, before its
#: state is saved (`hand_over_program_report`).
PROGRAM_REPORT = 4

_WARMUP_REFUSAL = '{"kind": "unknown", "message": "there are no tools during warm-up"}'


def hand_over_program_report(report: dict[str, Any]) -> None:
    """Hand the host a session program's report (and what it printed) before its state is
    saved. Saving can end the sandbox itself (pickling a value nested thousands deep runs out
    of the wasm guest's stack; a huge state runs past the wall time): the host then still
    has the program's result, and says the variables were not saved."""
    try:
        OUTPUT.flush()
        HOST.write_output(PROGRAM_REPORT, json.dumps(report))
    except Exception:
        pass  # the final report will say what happened, if the run gets that far


class WarmupHost:
    """The host of the runner's warm-up (``codeact_runner.warm_up``): tool calls are refused
    and output is dropped; nothing leaves the guest."""

    def dispatch(self, name: str, args_json: str) -> tuple[bool, str]:
        return False, _WARMUP_REFUSAL

    def start_call(self, name: str, args_json: str) -> tuple[bool, Any]:
        return False, _WARMUP_REFUSAL

    def wait_calls(self, timeout_ms: int) -> list[list[Any]]:
        return []

    def sleep(self, ms: int) -> None:
        return None

    def write_output(self, stream: int, text: str) -> None:
        return None


class Output:
    """stdout and stderr, capped together at `limit` bytes (the rest is counted, not kept).

    Text is handed to the host at every line end for the first 64 KiB (so a program stopped
    by a limit keeps everything it printed), then in chunks: when 8 KiB are waiting, when
    text has waited 0.1 s, and before every host call. (Timed from the text's first write,
    not from the last hand-over: after a sleep, ``print('b')`` came as 'b' and then '\n'.)

    Bytes (what a program writes to sys.stdout.buffer) are decoded as UTF-8, an invalid byte
    shown as U+FFFD and a character cut between two writes put together again (`write_bytes`);
    the last flush of a run (``final``) shows what is left of one cut short.
    """

    LINE_BUFFERED_BYTES = 64 * 1024
    FLUSH_BYTES = 8192
    FLUSH_SECONDS = 0.1

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.dropped = 0
        self.reported_dropped = 0
        self.buffer: list[str] = []
        self.buffered = 0
        self.stream = 1
        self.last_flush = time.monotonic()
        self.waiting_since = 0.0  # when the text now waiting was first written
        self.decoders: dict[int, codecs.IncrementalDecoder] = {}
        self.partial: set[int] = set()  # streams whose decoder holds part of a character

    def write_bytes(self, stream: int, data: Any) -> None:
        decoder = self.decoders.get(stream)
        if decoder is None:
            decoder = self.decoders[stream] = codecs.getincrementaldecoder("utf-8")("replace")
        self.partial.discard(stream)
        self.write(stream, decoder.decode(data))
        if decoder.getstate()[0]:
            self.partial.add(stream)

    def _settle(self, stream: int) -> None:
        """The part of a character that `stream`'s bytes left, before anything else on it."""
        self.partial.discard(stream)
        self.write(stream, self.decoders[stream].decode(b"", final=True))

    def write(self, stream: int, text: str) -> None:
        if self.partial and stream in self.partial:
            self._settle(stream)
        if not text:
            return
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        room = self.limit - self.used
        if size > room:
            if room <= 0:
                self.dropped += size
                if time.monotonic() - self.last_flush >= self.FLUSH_SECONDS:
                    self.flush()  # keeps the host's count of dropped bytes current
                return
            if text.isascii():
                text = text[:room]
            else:
                text = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            kept = len(text.encode("utf-8", "surrogatepass"))
            self.dropped += size - kept
            size = kept
        if stream != self.stream:
            self.flush()
            self.stream = stream
        now = time.monotonic()
        if not self.buffer:
            self.waiting_since = now
        self.buffer.append(text)
        self.buffered += size
        self.used += size
        if (
            self.buffered >= self.FLUSH_BYTES
            or (self.used <= self.LINE_BUFFERED_BYTES and text.endswith("\n"))
            or now - self.waiting_since >= self.FLUSH_SECONDS
        ):
            self.flush()

    def flush_asked(self) -> None:
        """The program flushed (``print(..., flush=True)``): hand over what waits, as a line
        end does: at once for the first 64 KiB, then in chunks (8 KiB, or text that waited
        0.1 s): a loop flushing every line would otherwise cross to the host every time
        (100,000 flushed prints took 4.9 s against 1.3 s unflushed)."""
        if not self.buffer and self.dropped == self.reported_dropped:
            return
        if (
            self.used <= self.LINE_BUFFERED_BYTES
            or self.buffered >= self.FLUSH_BYTES
            or time.monotonic() - self.waiting_since >= self.FLUSH_SECONDS
        ):
            self.flush()

    def flush(self, *, final: bool = False) -> None:
        while final and self.partial:
            self._settle(min(self.partial))
        if self.dropped != self.reported_dropped:
            HOST.write_output(3, str(self.dropped))  # stream 3: running total of dropped bytes
            self.reported_dropped = self.dropped
            self.last_flush = time.monotonic()
        if self.buffer:
            text = "".join(self.buffer)
            self.buffer.clear()
            self.buffered = 0
            if not text.isascii():
                # Lone surrogates are not text a host can take (a Wasm string must be valid
                # Unicode): show them escaped, as repr() would.
                text = text.encode("utf-8", "backslashreplace").decode("utf-8")
            HOST.write_output(self.stream, text)
            self.last_flush = time.monotonic()


#: The running program's output; the runner makes a new one for each program.
OUTPUT = Output(1 << 20)


# -- restore's guard ---------------------------------------------------------------------

#: The name under which the guest asks the host for bytes of its session's state: no tool
#: can have it (it is not an identifier), and the host answers it before any tool is looked up.
STATE_READ = "\x00state"


class Refused(BaseException):
    """What restore ran again (a definition, a value's unpickling) tried to reach outside the
    sandbox: a tool call, an HTTP request, a change to a file. It did not happen. A
    BaseException, so that ``except Exception`` in a class body does not hide it (restore
    drops what tried, even if it caught this)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class OutOfTime(BaseException):
    """What restore ran again went past restore's deadline."""


class _Guard:
    """While restore runs code again: the host as the program had it, minus every effect."""

    def __init__(self, host: Any, seconds: float) -> None:
        self.host = host
        self.seconds = seconds
        self.end = time.monotonic() + 2 * seconds  # for all of it
        self.deadline = self.end  # for what runs now (`arm`)
        self.tried: list[str] = []  # what was refused, in order

    def arm(self, *, trace: bool = True) -> None:
        """Start the deadline of one definition or value: `seconds` from now, within `end`
        (the tracer again, too: CPython unsets a tracer that raised)."""
        self.deadline = min(time.monotonic() + self.seconds, self.end)
        if trace:
            _hook_once(self)
            sys.settrace(_tracer)

    def spent(self) -> bool:
        return time.monotonic() > self.end

    def refuse(self, what: str) -> Refused:
        self.tried.append(what)
        return Refused(what)

    def dispatch(self, name: str, args_json: str) -> tuple[bool, str]:
        if name == STATE_READ:  # restore's own reads of the state
            return self.host.dispatch(name, args_json)  # type: ignore[no-any-return]
        raise self.refuse(f"calls the tool {name}")

    def start_call(self, name: str, args_json: str) -> tuple[bool, Any]:
        raise self.refuse(f"calls the tool {name}")

    def wait_calls(self, timeout_ms: int) -> list[list[Any]]:
        return []  # none was started

    def sleep(self, ms: int) -> None:
        if time.monotonic() + ms / 1000 > self.deadline:
            raise OutOfTime()
        self.host.sleep(ms)

    def write_output(self, stream: int, text: str) -> None:
        return None  # what restore's code prints was printed by the call that defined it

    def http_request(self, request_json: str) -> tuple[bool, str]:
        raise self.refuse("makes an HTTP request")

    def __getattr__(self, name: str) -> Any:
        if name == "read_state":  # the jail's frame for restore's own reads of the state
            return getattr(self.host, name)
        raise AttributeError(name)


_GUARD: _Guard | None = None

#: Audit events that change files (with the index of the path among their arguments).
_FILE_CHANGES = {
    "os.remove": 0,
    "os.rename": 0,
    "os.mkdir": 0,
    "os.rmdir": 0,
    "os.truncate": 0,
    "os.chmod": 0,
    "os.chown": 0,
    "os.link": 1,
    "os.symlink": 1,
    "os.utime": 0,
    "shutil.rmtree": 0,
}
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_hooked = False


def _hook_once(guard: _Guard) -> None:
    """The audit hook that refuses file changes, installed by the first restore that runs
    the program's code (not by the warm-up: an audit hook cannot be removed, and every
    audited event of every later run in this interpreter (an import, an open, a compile)
    then calls it; the warm-up's interpreter is every wasm instance's and every jail child's)."""
    global _hooked
    if not _hooked and not isinstance(guard.host, WarmupHost):
        sys.addaudithook(_audit)  # once per process; it does nothing outside restore
        _hooked = True


def _audit(event: str, args: tuple[Any, ...]) -> None:
    guard = _GUARD
    if guard is None:
        return
    if event == "open":
        flags = args[2] if len(args) > 2 else 0
        if isinstance(flags, int) and flags & _WRITING and not isinstance(args[0], int):
            raise guard.refuse(f"writes the file {args[0]}")
    elif event in _FILE_CHANGES:
        at = _FILE_CHANGES[event]
        raise guard.refuse(f"changes the file {args[at] if len(args) > at else '?'}")


def _tracer(frame: Any, event: str, arg: Any) -> Any:
    guard = _GUARD
    if guard is not None and time.monotonic() > guard.deadline:
        raise OutOfTime()
    if event == "call":
        # Every instruction, not every line: a loop on one line (``while True: pass``) has
        # no line event on some versions (3.11). Restore's code is a few statements.
        frame.f_trace_opcodes = True
    return _tracer


@contextmanager
def restoring(seconds: float) -> Iterator[_Guard]:
    """Run what restore runs again (a definition, a value's unpickling) under a guard: every
    host call that would have an effect (a tool call, an HTTP request) and every change to a
    file raises `Refused` instead and is recorded in the guard's ``tried``; what it prints is
    dropped. Each piece of code run after the guard's ``arm()`` has `seconds`, and all of
    them twice that: past it, its next instruction of Python (or a sleep) raises `OutOfTime`
    (a loop inside one C call is not stopped: the call's wall time is). Nested: the outer
    guard stays."""
    global HOST, OUTPUT, _GUARD
    if _GUARD is not None:
        yield _GUARD
        return
    host, output = HOST, OUTPUT
    guard = _Guard(host, seconds)
    tracer = sys.gettrace()
    HOST, OUTPUT, _GUARD = guard, Output(0), guard
    try:
        yield guard
    finally:
        sys.settrace(tracer)
        HOST, OUTPUT, _GUARD = host, output, None
