"""The host's file descriptors that a wasm run holds, and the bound on them.

A wasm guest's open files are descriptors of the host process itself (WASI opens each file
on the host). Nothing in wasmtime bounds how many a guest holds, so one program opening files
in a loop used up the whole process's descriptors (20,000 here): every other run of the
process, and the host application itself, then failed with "Too many open files". A run may
hold `OPEN_FILES` at once (as many as the jail's RLIMIT_NOFILE), counted from ``/proc`` as
the descriptors whose file lies under one of the run's folders (its /output, its mounts, its
package tree); past that the run is stopped (limit ``open_files``).

Reading every descriptor's link costs in proportion to the process's descriptors, so it is
done when the disk watch is due anyway (every 0.1 s) or when a cheap sign says the table is
filling: the lowest free descriptor number, which the kernel hands out first, has risen by
half the bound since the last count.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..output_walk import disk_held, removed_path

__all__ = ["OPEN_FILES", "Descriptors", "lowest_free", "raise_open_files_limit"]

log = logging.getLogger(__name__)

#: Descriptors one wasm run may hold at once (the jail's RLIMIT_NOFILE is the same).
OPEN_FILES = 256
_PROC_FD = Path("/proc/self/fd").is_dir()


#: The soft limit of open files this process asks for, at most (where the hard one allows).
WANTED_OPEN_FILES = 1 << 16


def raise_open_files_limit() -> None:
    """Raise this process's soft RLIMIT_NOFILE toward its hard limit, once (a common default
    soft limit is 1024): the bound of each run is checked now and then, from Python, so runs
    at once and a burst between two checks need room above 256 a run (several runs of 250 each
    made the host fail with EMFILE under 1024). Servers (and Ray) raise it the same way."""
    global _raised
    if _raised:
        return
    _raised = True
    try:
        import resource
    except ImportError:  # no rlimits here
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = WANTED_OPEN_FILES
        if hard != resource.RLIM_INFINITY:
            wanted = min(hard, wanted)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            log.info("codeact: raised this process's open-files limit from %d to %d", soft, wanted)
    except (OSError, ValueError) as exc:
        log.info("codeact: could not raise the open-files limit: %s", exc)


_raised = False


def lowest_free() -> int:
    """The number the next descriptor of this process would get (one open and close)."""
    fd = os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    os.close(fd)
    return fd


class Descriptors:
    """The descriptors of this process that lie under a run's folders."""

    def __init__(self, folders: Sequence[str], output_dir: str | None) -> None:
        # Made on every run's path: the folders' spellings are resolved at the first count.
        self._given = (tuple(folders), output_dir)
        self._folders: tuple[str, ...] = ()
        self._output: tuple[str, ...] = ()
        self.available = _PROC_FD
        self._foreign: frozenset[str] | None = None  # unreadable ones at the first count
        self._alarm = (lowest_free() + OPEN_FILES // 2) if self.available else 0

    def filling(self) -> bool:
        """Whether the process's table filled enough since the last count to count again
        (True when it is full: not even /dev/null opens)."""
        if not self.available:
            return False
        try:
            return lowest_free() >= self._alarm
        except OSError:
            return True

    def count(self) -> tuple[int | None, int]:
        """(descriptors held under the run's folders, or None when the process's table is
        full so that they cannot be counted; bytes of the files among them that were removed
        from /output but are still open: disk that no name there shows)."""
        held = removed = 0
        if not self.available:
            return held, removed
        if not self._folders:
            folders, output_dir = self._given
            self._folders = tuple(sorted({p for f in folders for p in _spellings(f)}))
            self._output = tuple(_spellings(output_dir)) if output_dir else ()
        try:
            entries = list(os.scandir("/proc/self/fd"))
        except OSError as exc:
            return (None if exc.errno in (errno.EMFILE, errno.ENFILE) else 0), removed
        unreadable: set[str] = set()
        for entry in entries:
            try:
                target = os.readlink(entry.path)  # noqa: PTH115  # once per descriptor: no Path made
            except OSError as exc:
                # A path past PATH_MAX has no link to read: only a program makes such paths
                # (a folder renamed deep under its own). Those there at this run's first count
                # are another run's (one that ended and whose sandbox is not freed yet); the
                # ones that come after count as this run's.
                if exc.errno == errno.ENAMETOOLONG:
                    unreadable.add(entry.name)
                continue
            gone = removed_path(target)
            if not _under(gone or target, self._folders):
                continue
            held += 1
            if gone is not None and _under(gone, self._output):
                try:
                    removed += disk_held(entry.stat())  # the open file, through /proc
                except OSError:
                    continue
        if self._foreign is None:
            self._foreign = frozenset(unreadable)
        held += len(unreadable - self._foreign)
        try:
            self._alarm = lowest_free() + OPEN_FILES // 2
        except OSError:
            return None, removed
        return held, removed


def _spellings(folder: str) -> list[str]:
    """`folder` as given and as the kernel names it (links resolved), without a final /."""
    return list(dict.fromkeys(p.rstrip("/") for p in (folder, os.path.realpath(folder))))


def _under(path: str, folders: tuple[str, ...]) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)
