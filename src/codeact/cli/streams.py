"""The command line's standard streams when they are not an ordinary terminal or file: closed
at start (``<&-``, ``>&-``), or a pipe whose reader went away (``codeact exec p.py | head``).

A reader that goes away is the Unix ``SIGPIPE`` case: the command stops quietly (no traceback,
no "internal error"), stops the program it runs, and exits 141 (128 + SIGPIPE, what a shell
shows for a command that SIGPIPE ended). Any other failure to write the output (a full disk,
an I/O error, stdout closed at start: ``>&-``) is one line, ``codeact: error: cannot write the
output: No space left on device``, exit 1, as `cat` does; the program is stopped there too,
its output can no longer be delivered. stdin closed at start reads as empty; stderr closed at
start discards what is written to it, as /dev/null would.

With ``PYTHONUNBUFFERED=1`` (``python -u``, many container images) Python's stdout and stderr
write straight to the file descriptor and take a short write as done: a large write (a big
value, a ``--json`` result) whose reader went away part way lost the rest without an error,
so the command exited 0. `whole_writes` gives such a stream a layer that writes everything
or raises (`BrokenPipeError` there).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import select
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, cast

__all__ = [
    "EXIT_BROKEN_PIPE",
    "OutputWriteError",
    "StdoutWatch",
    "broken_pipe_exit",
    "guard_stdout",
    "is_broken_pipe",
    "open_missing_streams",
    "output_failed_exit",
    "whole_writes",
]

EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE


class OutputWriteError(Exception):
    """The command's output could not be written (not a reader that went away: that is
    `BrokenPipeError`, exit 141). Its message is the reason, e.g. "No space left on device"."""


def open_missing_streams() -> None:
    """Give a stream that was closed when the command started (``sys.stdin is None``) a
    stand-in, so that no later ``sys.stdin.read()`` fails with AttributeError: stdin and
    stderr a /dev/null; stdout one whose writes fail with EBADF, as the closed descriptor's
    would (`cat >&-` fails too: output nobody can read is not a success)."""
    for name, mode in (("stdin", "r"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115
    if sys.stdout is None:
        sys.stdout = _ClosedStdout()


class _ClosedStdout(io.TextIOBase):
    """stdout closed at start: every non-empty write fails with EBADF."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return 0


def whole_writes() -> None:
    """Give stdout and stderr a layer that writes all it is given or raises, where they write
    straight to their file descriptor (unbuffered: ``PYTHONUNBUFFERED``, ``-u``): Python's own
    takes a short write for a whole one. Still unbuffered: each write reaches the descriptor
    before it returns."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        raw = getattr(stream, "buffer", None)
        if not isinstance(stream, io.TextIOWrapper) or not isinstance(raw, io.RawIOBase):
            continue
        if isinstance(raw, _WholeWrites):
            continue
        try:
            stream.flush()
            wrapped = io.TextIOWrapper(
                cast(Any, _WholeWrites(raw)),  # raw under text, as Python's own -u stdout
                encoding=stream.encoding,
                errors=stream.errors,
                line_buffering=stream.line_buffering,
                write_through=True,
            )
        except (OSError, ValueError):
            continue
        setattr(sys, name, wrapped)


class _WholeWrites(io.RawIOBase):
    """A raw stream over another whose `write` returns only when all was written, raising
    what the descriptor raised (EPIPE: `BrokenPipeError`) when it cannot."""

    def __init__(self, raw: io.RawIOBase) -> None:
        super().__init__()
        self._raw = raw

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def isatty(self) -> bool:
        return self._raw.isatty()

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            written = self._raw.write(view[done:])
            if written is None:  # a non-blocking descriptor that is full: wait for room
                select.select([], [self.fileno()], [])
                continue
            done += written
        return done


def guard_stdout() -> None:
    """Make a failed write to stdout an `OutputWriteError` (a reader that went away stays
    `BrokenPipeError`), whichever command wrote it: every command then says it in one line
    (`output_failed_exit`), not as an internal error, and an OSError of anything else (a file
    a command writes) is not taken for it."""
    if not isinstance(sys.stdout, _GuardedStdout):
        sys.stdout = cast(Any, _GuardedStdout(sys.stdout))


class _GuardedStdout:
    """A text stream over another whose `write`, `writelines` and `flush` raise
    `OutputWriteError` for what the stream raised (but `BrokenPipeError`); the rest is the
    stream's own."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        with _as_output_error():
            return int(self._stream.write(text))

    def writelines(self, lines: Any) -> None:
        with _as_output_error():
            self._stream.writelines(lines)

    def flush(self) -> None:
        with _as_output_error():
            self._stream.flush()


@contextlib.contextmanager
def _as_output_error() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputWriteError(exc.strerror or str(exc)) from exc


def is_broken_pipe(exc: BaseException) -> bool:
    """Whether `exc` is a write to stdout or stderr whose reader went away (a broken pipe
    elsewhere, e.g. a tool's own subprocess, is not)."""
    return isinstance(exc, BrokenPipeError) and bool(_broken_fds())


def _broken_fds() -> list[int]:
    """stdout and stderr, those that are pipes whose reading end is closed (POLLERR)."""
    try:
        poller = select.poll()
        for fd in (1, 2):
            poller.register(fd, select.POLLOUT)
        return [fd for fd, revents in poller.poll(0) if revents & select.POLLERR]
    except (OSError, ValueError):
        return []


def _silence_broken() -> None:
    """Point a broken stdout/stderr at /dev/null: the interpreter's last flush at exit, and
    any message still to come, must not fail again."""
    for fd in _broken_fds():
        _silence(fd)


def _silence(fd: int) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


def output_failed_exit(exc: BaseException) -> NoReturn:
    """Writing the output failed: a reader that went away exits 141 quietly; anything else
    (ENOSPC, EIO, EBADF...) is one line on stderr and exit 1. stdout is silenced first, so
    that the interpreter's last flush does not fail again."""
    if isinstance(exc, OSError) and is_broken_pipe(exc):
        broken_pipe_exit()
    reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    _silence(1)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"codeact: error: cannot write the output: {reason}\n")
        sys.stderr.flush()
    sys.exit(1)


def broken_pipe_exit() -> NoReturn:
    """The reader of stdout went away: exit quietly with 141."""
    _silence_broken()
    sys.exit(EXIT_BROKEN_PIPE)


class StdoutWatch:
    """Wraps an output callback: when its write fails (the pipe closed, a full disk, ...),
    the stream is silenced, `on_gone` runs once (the caller stops the program there), `gone`
    turns true and `error` holds what the write raised (`output_failed_exit` says it)."""

    def __init__(self, write: Callable[[Any], Any], on_gone: Callable[[], Any]) -> None:
        self._write = write
        self._on_gone = on_gone
        self.gone = False
        self.error: OSError | None = None
        self.broken = False  # the error is a reader that went away (stdout now silenced)

    def __call__(self, chunk: Any) -> None:
        if self.gone:
            return
        try:
            self._write(chunk)
        except OutputWriteError as exc:
            self._failed(OSError(0, str(exc)))
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        self.gone = True
        self.error = exc
        self.broken = is_broken_pipe(exc)
        if self.broken:
            _silence_broken()
        self._on_gone()
