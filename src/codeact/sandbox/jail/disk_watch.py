"""The jail's /output watch: a stop when a program writes (or holds) far past the output limits.

The full count (walking /output, reading the child's descriptors and mappings from /proc) runs
every `FULL_SECONDS`. Between two counts a program can hold gigabytes (plain fallocate of a
file at RLIMIT_FSIZE takes about a millisecond; 3 GB held behind mappings took under a
quarter of a second), so the relay asks far more often (`relay.serve.WATCH_SECONDS`), and each
time the watch reads what the filesystem under /output has left (one statvfs): when that fell
by more than the limit since the last count, it counts at once. Other writers on the host can
only bring a count forward, never a stop: the stop still comes from the count.
"""

from __future__ import annotations

import os
import time

from ...bridge.protocol import Stop
from ...policy.mounts import OUTPUT_PATH
from ...policy.outputs import OutputLimits
from ..artifacts import output_overflow

__all__ = ["FULL_SECONDS", "DiskWatch"]

#: Seconds between two full counts of /output while nothing says the disk is filling.
FULL_SECONDS = 0.25


class DiskWatch:
    """``watch()``: the stop when the program in `output_dir` is past `limits`, else None.
    With `pid`, the files that child holds removed or unnamed count too; its /proc links name
    them from its own `root`, the jail's root folder."""

    def __init__(
        self, output_dir: str, limits: OutputLimits, pid: int | None = None, root: str = ""
    ) -> None:
        self._dir = output_dir
        self._limits = limits
        self._limit = limits.disk_bytes
        self._pid = pid
        self._seen_as = root + OUTPUT_PATH if root else None
        self._next_count = time.monotonic() + FULL_SECONDS
        self._free = _free(output_dir)

    def __call__(self) -> Stop | None:
        now = time.monotonic()
        free = _free(self._dir)
        before = self._free
        filling = before is not None and free is not None and before - free > self._limit
        if now < self._next_count and not filling:
            return None
        return self.count(now, free)

    def count(self, now: float | None = None, free: int | None = None) -> Stop | None:
        """The full count, now."""
        self._next_count = (time.monotonic() if now is None else now) + FULL_SECONDS
        self._free = _free(self._dir) if free is None else free
        return output_overflow(self._dir, self._limits, pid=self._pid, seen_as=self._seen_as)


def _free(path: str) -> int | None:
    """Bytes the filesystem under `path` has left (None where it cannot tell)."""
    try:
        info = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return info.f_bfree * info.f_frsize
