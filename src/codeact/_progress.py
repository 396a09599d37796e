"""Where the one-time waits report their stage: building and compiling the sandbox guest,
assembling and starting the embedded model.

By default each message is one ``codeact: ...`` line on stderr. A program (the CLI) may take
the messages over with `progress_to`, e.g. to show them as a live display with the elapsed
time. Messages may come from any thread.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = ["Progress", "progress_to", "report"]

Progress = Callable[[str], None]

_lock = threading.Lock()
_sinks: list[Progress] = []


def report(message: str) -> None:
    """Tell the user about a stage of a one-time wait (to the current sink, else stderr)."""
    with _lock:
        sink = _sinks[-1] if _sinks else None
    if sink is not None:
        sink(message)
    else:
        print(f"codeact: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def progress_to(sink: Progress) -> Iterator[None]:
    """Send every `report` to `sink` while the block runs."""
    with _lock:
        _sinks.append(sink)
    try:
        yield
    finally:
        with _lock:
            _sinks.remove(sink)
