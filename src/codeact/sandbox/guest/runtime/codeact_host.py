"""The guest's link to its host: the backend's glue object and the program's output.

`HOST` is the glue a backend hands to ``codeact_runner.install`` (its interface is described
in codeact_runner); `WarmupHost` is the one the runner's own warm-up runs against. `OUTPUT`
holds what the running program printed, capped, and hands it to the host as it goes;
`Stream` is what sys.stdout and sys.stderr are while a program runs, `NoStdin` what
sys.stdin is.

Runs inside the sandbox; imports only the standard library.
"""

from __future__ import annotations

import io
import time
from typing import Any

__all__ = ["HOST", "NO_STDIN", "OUTPUT", "NoStdin", "Output", "Stream", "WarmupHost"]

HOST: Any = None  # the backend's glue object; set by codeact_runner.install()

_WARMUP_REFUSAL = '{"kind": "unknown", "message": "there are no tools during warm-up"}'


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
    0.1 s passed since the last hand-over, and before every host call.
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

    def write(self, stream: int, text: str) -> None:
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
        self.buffer.append(text)
        self.buffered += size
        self.used += size
        if (
            self.buffered >= self.FLUSH_BYTES
            or (self.used <= self.LINE_BUFFERED_BYTES and text.endswith("\n"))
            or time.monotonic() - self.last_flush >= self.FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
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


class Stream(io.TextIOBase):
    """sys.stdout or sys.stderr of a program: text goes to `OUTPUT`, capped there."""

    def __init__(self, name: str, stream: int) -> None:
        self._name = name
        self._stream = stream

    @property
    def name(self) -> str:
        return "<" + self._name + ">"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        OUTPUT.write(self._stream, text)
        return len(text)

    def flush(self) -> None:
        pass


#: What reading sys.stdin (input() included) raises: the sandbox has no stdin, and an empty
#: one (a bare "EOF when reading a line", or '' that a program parses as its data) did not
#: say so. EOFError, as input() raises at the end of its input: programs that catch it still do.
NO_STDIN = "the sandbox has no stdin: pass data through tools, mounts or the program itself"


class _NoStdinBytes(io.RawIOBase):
    """sys.stdin.buffer of a program: reading it raises EOFError that says why."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise EOFError(NO_STDIN)

    def readline(self, size: int | None = -1) -> bytes:
        raise EOFError(NO_STDIN)

    def read(self, size: int | None = -1) -> bytes:
        raise EOFError(NO_STDIN)

    def readall(self) -> bytes:
        raise EOFError(NO_STDIN)


class NoStdin(io.TextIOBase):
    """sys.stdin of a program: every read (input(), read, readline, iteration) raises
    EOFError with `NO_STDIN`."""

    def __init__(self) -> None:
        self._buffer = _NoStdinBytes()

    @property
    def name(self) -> str:
        return "<stdin>"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def buffer(self) -> Any:
        return self._buffer

    def readable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def read(self, size: int | None = -1) -> str:
        raise EOFError(NO_STDIN)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise EOFError(NO_STDIN)
