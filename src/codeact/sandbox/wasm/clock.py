"""The guest's WASI monotonic clock: the time as the host reads it, and no waits on it.

A program in the sandbox waits through the sandbox's own `time.sleep` and `asyncio.sleep`,
which call the host's ``sleep`` import: that wait ends at the program's deadline. A program
can instead reach WASI's clock (re-import the built-in `time` module and call its sleep, or
`select.select` with a timeout): the guest's C library then subscribes to the monotonic
clock and waits in wasmtime's ``poll``, a host call that epoch interruption cannot end. The
execution was still stopped at its wall time, but its thread and the instance's memory stayed
until the wait ran out (12 such runs held 9 threads and about 110 MB of the host).

So the guest's linker gets its own monotonic-clock interface in place of WASI's: ``now`` and
``resolution`` read the host's monotonic clock as WASI's would, and a subscription (the only
way to wait on the clock) is refused: the host call traps at once and the program ends with a
``PermissionError`` that says how to wait instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wasmtime import Engine
from wasmtime.component import Component, Linker

from .fastcall import add_host_function

__all__ = ["INTERFACE", "WAIT_REFUSED", "ClockWaitRefused", "refuse_clock_waits"]

#: The WASI interface replaced (its version, e.g. ``@0.2.9``, is the guest's).
INTERFACE = "wasi:clocks/monotonic-clock@"

#: What the program is told.
WAIT_REFUSED = (
    "waiting on the clock outside the sandbox's own time.sleep (a re-imported time module, "
    "select() with a timeout) is not available in the sandbox: use time.sleep or asyncio.sleep"
)


class ClockWaitRefused(Exception):
    """The guest subscribed to the monotonic clock (a raw wait), which the sandbox refuses."""


def refuse_clock_waits(
    linker: Linker,
    component: Component,
    engine: Engine,
    on_error: Callable[[BaseException], None],
) -> str | None:
    """Define the guest's monotonic-clock import on `linker` (after ``add_wasip2``): the
    clock's readings pass through, a subscription tells `on_error` a `ClockWaitRefused` and
    traps. Returns the interface's full name, or None when the guest does not import it."""
    name = next((n for n in component.type.imports(engine) if n.startswith(INTERFACE)), None)
    if name is None:
        return None
    linker.allow_shadowing = True  # this instance replaces the one add_wasip2 defined
    try:
        with linker.root() as root, root.add_instance(name) as clock:
            add_host_function(clock, "now", time.monotonic_ns, (), "u64", on_error)
            add_host_function(clock, "resolution", lambda: 1, (), "u64", on_error)
            for wait in ("subscribe-instant", "subscribe-duration"):
                add_host_function(clock, wait, _refuse, ("u64",), "none", on_error)
    finally:
        linker.allow_shadowing = False
    return name


def _refuse(_when: int) -> None:
    raise ClockWaitRefused(WAIT_REFUSED)
