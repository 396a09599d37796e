"""`codeact serve-mcp` over stdio, as a person meets it on a terminal: it says what it is
waiting for, and Ctrl-C stops it.

The MCP stdio transport reads stdin in a worker thread that cannot be cancelled: after Ctrl-C
the event loop waits for that read, so the server kept running until the next line or EOF
(on a terminal: until Ctrl-D, which nobody guesses). Ctrl-C now ends the server with status
130, after a moment for an orderly shutdown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import click

__all__ = ["GRACE_S", "interruptible_stdio"]

#: How long an orderly shutdown may take after Ctrl-C before the process ends anyway.
GRACE_S = 2.0


def _force_exit() -> None:
    """The orderly shutdown is stuck on the stdin read ("codeact: interrupted" was printed on
    the way out): end the process."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(130)


@contextlib.contextmanager
def interruptible_stdio() -> Iterator[None]:
    """While serving over stdio: tell a person at a terminal what this is, and let Ctrl-C
    (SIGINT) end it even while the transport is blocked reading stdin."""
    if sys.stdin is not None and sys.stdin.isatty():
        click.echo(
            "codeact: serving MCP on stdin/stdout: an MCP client starts this command and talks "
            "to it (see docs/integrations.md); to serve over HTTP use --http 127.0.0.1:8765. "
            "Ctrl-C stops it.",
            err=True,
        )
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        timer = threading.Timer(GRACE_S, _force_exit)
        timer.daemon = True
        timer.start()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends it at once
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:  # started in the background (nohup ... &): leave it so
        yield
        return
    signal.signal(signal.SIGINT, on_signal)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGINT, previous)
