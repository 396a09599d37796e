"""After `os.fork()`: a child process starts its sandboxes afresh instead of using the parent's.

A forked child (multiprocessing's "fork" start method, the default on Linux before Python
3.14; a server that forks its workers after loading the app) gets a copy of the parent's
objects but only the thread that forked. A backend's threads, its warm pool and the
processes it talks to (the jail's zygote, hyperlight's workers) are the parent's: used from
the child, every program waited for a thread that does not exist there and ended at its
wall time, and a jail would have spoken to the parent's zygote.

Objects that hold such state register here (`track`) and get `_start_process_state()` in the child,
right after the fork, to drop it (never closing or killing what the parent still uses) so
that their next use starts their own. Module-level state registers a function
(`on_fork_in_child`). The same objects keep working in the parent, unchanged.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["on_fork_in_child", "track"]

log = logging.getLogger("codeact.sandbox")

_TRACKED: weakref.WeakSet[Any] = weakref.WeakSet()
_CALLBACKS: list[Callable[[], None]] = []


def track(obj: Any) -> None:
    """Call ``obj._start_process_state()`` in every child forked from now on (held weakly)."""
    _TRACKED.add(obj)


def on_fork_in_child(fn: Callable[[], None]) -> Callable[[], None]:
    """Call `fn()` in every child forked from now on (as a decorator too)."""
    _CALLBACKS.append(fn)
    return fn


def _after_fork_in_child() -> None:
    for fn in list(_CALLBACKS):
        try:
            fn()
        except Exception:  # the child must go on; what failed is logged
            log.exception("codeact: resetting %r after fork failed", fn)
    for obj in list(_TRACKED):
        try:
            obj._start_process_state()
        except Exception:
            log.exception("codeact: resetting %r after fork failed", obj)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
