"""The command line's standard streams when they are not an ordinary terminal or file: closed
at start (``<&-``, ``>&-``), or a pipe whose reader went away (``codeact exec p.py | head``).

A reader that goes away is the Unix ``SIGPIPE`` case: the command stops quietly (no traceback,
no "internal error"), stops the program it runs, and exits 141 (128 + SIGPIPE, what a shell
shows for a command that SIGPIPE ended). A stream closed at start reads as empty (stdin) or
discards what is written to it (stdout, stderr), as /dev/null would.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = [
    "EXIT_BROKEN_PIPE",
    "StdoutWatch",
    "broken_pipe_exit",
    "is_broken_pipe",
    "open_missing_streams",
]

EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE


def open_missing_streams() -> None:
    """Give a stream that was closed when the command started (``sys.stdin is None``) a
    /dev/null in its place, so that no later ``sys.stdin.read()`` fails with AttributeError."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115


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
