"""Signals held off while the main thread is inside wasmtime.

Python runs a signal's handler on the main thread between any two bytecodes, those of a
ctypes callback too: wasmtime calls back into Python (the guest's host functions, the epoch
check, finalizers when a store is closed), and a KeyboardInterrupt raised at the first bytecode
of such a callback, before its ``try``, cannot unwind through wasmtime's C frames. ctypes then
prints "Exception ignored on calling ctypes callback function" and hands wasmtime a made-up
return value (a crash, seen as a SIGSEGV on Ctrl-C while `codeact exec` warmed its sandbox).
The guest runs on the main thread only when a caller prepares a runtime there (the pool's
first instance, the CLI's start); runs are on worker threads, where no handler runs.

While the main thread is inside, SIGINT, SIGTERM and SIGHUP are recorded, not handled; once
it is out, the first one recorded goes to the handler that was in place (Ctrl-C's
KeyboardInterrupt is then raised where it can unwind).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["signals_held"]

_HELD = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold off the Python handlers of `_HELD` for the block (on the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[int, Any] = {}

    def record(signum: int, _frame: object) -> None:
        caught.append(signum)

    try:
        for signum in _HELD:
            handler = signal.getsignal(signum)
            if callable(handler):  # a Python handler: SIG_DFL and SIG_IGN stay as they are
                previous[signum] = handler
                signal.signal(signum, record)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            previous[caught[0]](caught[0], None)
