"""Keep wasmtime's signal handlers in place: they turn a guest's faults into traps.

A guest's `unreachable` (the interpreter aborting), a stack overflow into its guard page or
a division trap reaches wasmtime as a signal (SIGILL, SIGSEGV, SIGBUS, SIGFPE) that its own
handlers, installed when the engine is made, turn into an error for that one run. A library
loaded later may install handlers of its own for the same signals without passing on to
wasmtime's: Ray does (``ray.init()`` in a process that already ran a sandbox); so may a crash
reporter. Then the next guest that faults kills the whole process (Ray's: SIGILL, exit 132)
instead of failing its run.

`TrapSignals` remembers the handlers right after the engine is made and, before each run,
puts them back if something replaced them (once logged). Only the handler's address is
compared; the whole `struct sigaction` saved is what is restored. POSIX only: elsewhere
wasmtime does not use signals, and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import signal
import sys
import threading

__all__ = ["TrapSignals"]

log = logging.getLogger("codeact.sandbox.wasm")

_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGSEGV", "SIGILL", "SIGBUS", "SIGFPE")
    if hasattr(signal, name)
)
_ACTION_BYTES = 512  # larger than `struct sigaction` on every libc; the handler comes first


def _libc() -> ctypes.CDLL | None:
    if sys.platform == "win32":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.sigaction.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        libc.sigaction.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


class TrapSignals:
    """wasmtime's handlers of the fault signals, as they were when the engine was made."""

    def __init__(self) -> None:
        self._libc = _libc()
        self._saved: dict[int, ctypes.Array[ctypes.c_char]] = {}
        self._lock = threading.Lock()
        self._warned = False
        if self._libc is None:
            return
        for signum in _SIGNALS:
            action = ctypes.create_string_buffer(_ACTION_BYTES)
            if self._libc.sigaction(signum, None, action) == 0:
                self._saved[signum] = action

    def ensure(self) -> None:
        """Put back wasmtime's handler of every signal some other code has taken over."""
        if self._libc is None or not self._saved:
            return
        replaced = []
        for signum, saved in self._saved.items():
            now = ctypes.create_string_buffer(_ACTION_BYTES)
            if self._libc.sigaction(signum, None, now) != 0:
                continue
            if (
                now.raw[: ctypes.sizeof(ctypes.c_void_p)]
                != saved.raw[: ctypes.sizeof(ctypes.c_void_p)]
            ):
                replaced.append(signum)
        if not replaced:
            return
        with self._lock:
            for signum in replaced:
                self._libc.sigaction(signum, self._saved[signum], None)
            if not self._warned:
                self._warned = True
                names = ", ".join(signal.Signals(s).name for s in replaced)
                log.warning(
                    "codeact: another library replaced the handlers of %s that wasmtime needs "
                    "to turn a sandboxed program's faults into errors; codeact put them back "
                    "(a fault in that library's own code now ends the process without its "
                    "report)",
                    names,
                )
