"""What sys.stdout, sys.stderr and sys.stdin are while a program runs.

`Stream` (sys.stdout, sys.stderr) is a text stream as a redirected one is: text and the bytes
of its `buffer` go to the program's output (``codeact_host.OUTPUT``, capped there), it is no
terminal and has no file descriptor, and `reconfigure` takes the usual keywords. The output
is text whatever they say: bytes are read as UTF-8, and encoding and errors are recorded, not
used. `NoStdin` (sys.stdin) says, on every read, that the sandbox has no stdin.

Runs inside the sandbox; imports only the standard library and codeact_host.
"""

from __future__ import annotations

import codecs
import io
from typing import Any

import codeact_host

__all__ = ["NO_STDIN", "NoStdin", "Stream"]

_NEWLINES = (None, "", "\n", "\r", "\r\n")


class Stream(io.TextIOBase):
    """sys.stdout or sys.stderr of a program: text goes to `codeact_host.OUTPUT`, capped
    there; so do the bytes of its `buffer`."""

    def __init__(self, name: str, stream: int) -> None:
        self._name = name
        self._stream = stream
        self._encoding = "utf-8"
        # What the sandbox does with a lone surrogate: it shows it escaped (never fails).
        self._errors = "backslashreplace"
        self._line_buffering = False
        self._write_through = False
        self._buffer = _Bytes(self)

    @property
    def name(self) -> str:
        return "<" + self._name + ">"

    @property
    def mode(self) -> str:
        return "w"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    @property
    def errors(self) -> str:  # type: ignore[override]
        return self._errors

    @property
    def line_buffering(self) -> bool:
        return self._line_buffering

    @property
    def write_through(self) -> bool:
        return self._write_through

    @property
    def buffer(self) -> _Bytes:
        return self._buffer

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        codeact_host.OUTPUT.write(self._stream, text)
        return len(text)

    def flush(self) -> None:
        """Hand what waits to the host (``print(..., flush=True)``), as a line end does: text
        without a line end is shown live, and kept if a limit stops the program next."""
        codeact_host.OUTPUT.flush_asked()

    def reconfigure(
        self,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = "",
        line_buffering: bool | None = None,
        write_through: bool | None = None,
    ) -> None:
        """As `io.TextIOWrapper.reconfigure`: the values are checked and kept, but the
        sandbox's output stays text (bytes written to `buffer` are read as UTF-8)."""
        for label, value in (("encoding", encoding), ("errors", errors)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"reconfigure() argument '{label}' must be str or None")
        if newline not in _NEWLINES:
            raise ValueError(f"illegal newline value: {newline!r}")
        if encoding is not None:
            codecs.lookup(encoding)  # LookupError for an unknown codec, as the real one
            self._encoding = encoding
            self._errors = "strict"  # as TextIOWrapper: a new encoding resets errors
        if errors is not None:
            self._errors = errors
        if line_buffering is not None:
            self._line_buffering = bool(line_buffering)
        if write_through is not None:
            self._write_through = bool(write_through)


class _Bytes(io.BufferedIOBase):
    """sys.stdout.buffer or sys.stderr.buffer of a program: the bytes go to the same output
    as the text, read as UTF-8 (`codeact_host.Output.write_bytes`)."""

    def __init__(self, text: Stream) -> None:
        self._text = text

    @property
    def name(self) -> str:
        return self._text.name

    @property
    def mode(self) -> str:
        return "wb"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        if isinstance(data, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        try:
            view = memoryview(data)
        except TypeError:
            raise TypeError(
                f"a bytes-like object is required, not '{type(data).__name__}'"
            ) from None
        with view:
            codeact_host.OUTPUT.write_bytes(self._text._stream, view)
            return view.nbytes

    def flush(self) -> None:
        codeact_host.OUTPUT.flush_asked()


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
