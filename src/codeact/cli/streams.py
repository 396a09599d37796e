"""The command line's standard streams when they are not an ordinary terminal or file: closed
at start (``<&-``, ``>&-``), or a pipe whose reader went away (``codeact exec p.py | head``).

A reader that goes away is the Unix ``SIGPIPE`` case: the command stops quietly (no traceback,
no "internal error"), stops the program it runs, and exits 141 (128 + SIGPIPE, what a shell
shows for a command that SIGPIPE ended). A stream closed at start reads as empty (stdin) or
discards what is written to it (stdout, stderr), as /dev/null would.

With ``PYTHONUNBUFFERED=1`` (``python -u``, many container images) Python's stdout and stderr
write straight to the file descriptor and take a short write as done: a large write (a big
value, a ``--json`` result) whose reader went away part way lost the rest without an error,
so the command exited 0. `whole_writes` gives such a stream a layer that writes everything
or raises (`BrokenPipeError` there).
"""

from __future__ import annotations

import io
import os
import select
import sys
from collections.abc import Callable
from typing import Any, NoReturn, cast

__all__ = [
    "EXIT_BROKEN_PIPE",
    "StdoutWatch",
    "broken_pipe_exit",
    "is_broken_pipe",
    "open_missing_streams",
    "whole_writes",
]

EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE


def open_missing_streams() -> None:
    """Give a stream that was closed when the command started (``sys.stdin is None``) a
    /dev/null in its place, so that no later ``sys.stdin.read()`` fails with AttributeError."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115


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
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        except OSError:
            pass


def broken_pipe_exit() -> NoReturn:
    """The reader of stdout went away: exit quietly with 141."""
    _silence_broken()
    sys.exit(EXIT_BROKEN_PIPE)


class StdoutWatch:
    """Wraps an output callback: when its write finds the pipe closed, stdout is silenced,
    `on_gone` runs once (the caller stops the program there) and `gone` turns true."""

    def __init__(self, write: Callable[[Any], Any], on_gone: Callable[[], Any]) -> None:
        self._write = write
        self._on_gone = on_gone
        self.gone = False

    def __call__(self, chunk: Any) -> None:
        if self.gone:
            return
        try:
            self._write(chunk)
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            self.gone = True
            _silence_broken()
            self._on_gone()
