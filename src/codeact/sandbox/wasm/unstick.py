"""Free a wasm run's thread that a FIFO holds after its run was stopped.

A wasm guest runs on a host thread, and its file calls are that thread's own system calls.
Opening a FIFO that a host put in a granted folder blocks in the kernel until the other end
is opened, and no epoch interrupt reaches a thread blocked there: the run is stopped at its
wall time, but its thread (and the instance it holds) stayed blocked for good, two host
threads per such run. Opening the FIFO ourselves with ``O_RDWR | O_NONBLOCK`` (which Linux
never blocks on, and which counts as both ends) lets the blocked ``open`` return; the guest
then traps at its next epoch check, since its deadline has passed. A read on it then sees the
end of the stream once we close it, and a write a broken pipe.

Only a stopped run's mounts are walked, and only while its thread has not returned, up to
`MAX_ENTRIES` entries each time.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import stat
import threading
from collections.abc import Sequence

__all__ = ["MAX_ENTRIES", "free_when_stuck", "open_fifos_under"]

#: Entries of a run's mounts looked at per attempt (a mount may be a large tree).
MAX_ENTRIES = 20_000
#: Seconds after the stop at which a thread that has not returned is freed.
ATTEMPTS = (0.2, 1.0, 5.0)


def free_when_stuck(future: concurrent.futures.Future[object], folders: Sequence[str]) -> None:
    """After a stop: while `future` (the run's thread) has not returned, open the FIFOs under
    `folders` now and then, on a daemon thread of its own."""
    if not folders or os.name != "posix":
        return

    def watch() -> None:
        waited = 0.0
        for at in ATTEMPTS:
            try:
                future.result(timeout=at - waited)
                return
            except concurrent.futures.TimeoutError:
                pass
            except BaseException:  # it returned, with the run's failure
                return
            waited = at
            open_fifos_under(folders)

    threading.Thread(target=watch, name="codeact-wasm-unstick", daemon=True).start()


def open_fifos_under(folders: Sequence[str], *, max_entries: int = MAX_ENTRIES) -> int:
    """Open and close at once every FIFO under `folders` (links not followed); how many."""
    opened = 0
    seen = 0
    pending = list(folders)
    while pending and seen < max_entries:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
            elif stat.S_ISFIFO(info.st_mode):
                with contextlib.suppress(OSError):
                    os.close(os.open(entry.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW))
                    opened += 1
    return opened
