"""Copying pages of this process's memory in from their mapping: ``MADV_POPULATE_WRITE``.

For a private mapping of a file (a guest slot's copy-on-write view of the memory image),
populating a page for writing gives it its own copy of the file's contents now, before
anyone touches it: no fault later, and no page-table entry replaced (so no other CPU's
TLB to flush). Many ranges go to the kernel in one ``process_madvise`` call where the
kernel allows that advice through it (Linux 6.13 and later), else one ``madvise`` a range.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Sequence

__all__ = ["MADV_POPULATE_WRITE", "Populate"]

MADV_POPULATE_WRITE = 23  # Linux 5.14
_PROCESS_MADVISE = {"x86_64": 440, "aarch64": 440}.get(platform.machine())  # Linux 5.10
_PIDFD_OPEN = {"x86_64": 434, "aarch64": 434}.get(platform.machine())
_IOV_MAX = 1024
_long = ctypes.c_long


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Populate:
    """``MADV_POPULATE_WRITE`` over many ranges: one ``process_madvise`` call where the
    kernel allows it on this process, else one ``madvise`` per range."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.syscall.restype = ctypes.c_long
        self._libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self._pidfd = -1
        self._pid = os.getpid()  # the process the pidfd names (a forked child is another)
        if _PROCESS_MADVISE is not None and _PIDFD_OPEN is not None:
            # syscall(2) is variadic and reads longs: pass longs, not ctypes' default ints.
            fd = int(self._libc.syscall(_long(_PIDFD_OPEN), _long(self._pid), _long(0)))
            self._pidfd = fd if fd >= 0 else -1  # pidfds are opened close-on-exec

    def populate_write(self, ranges: Sequence[tuple[int, int]]) -> str:
        """'' when done, else why not."""
        if self._pidfd >= 0 and os.getpid() == self._pid:
            done = self._process_madvise(ranges)
            if done:
                return ""
            self._pidfd = -1  # not on this kernel: per range from now on
        for address, length in ranges:
            if self._libc.madvise(address, length, MADV_POPULATE_WRITE) != 0:
                return f"madvise(MADV_POPULATE_WRITE): {os.strerror(ctypes.get_errno())}"
        return ""

    def _process_madvise(self, ranges: Sequence[tuple[int, int]]) -> bool:
        if _PROCESS_MADVISE is None:
            return False
        for at in range(0, len(ranges), _IOV_MAX):
            chunk = ranges[at : at + _IOV_MAX]
            iov = (_Iovec * len(chunk))(*(_Iovec(a, n) for a, n in chunk))
            want = sum(n for _, n in chunk)
            got = self._libc.syscall(
                _long(_PROCESS_MADVISE),
                _long(self._pidfd),
                iov,
                _long(len(chunk)),
                _long(MADV_POPULATE_WRITE),
                _long(0),
            )
            if got != want:
                return False
        return True
