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
`MAX_ENTRIES` entries each time. They are walked by descriptor, never following a link: the
next run on a read-write mount may be changing the tree meanwhile (`open_fifos_under`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import stat
import threading
from collections.abc import Sequence

from ..._paths import open_folder_nofollow

__all__ = ["MAX_DEPTH", "MAX_ENTRIES", "free_when_stuck", "open_fifos_under"]

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
    """Open and close at once every FIFO under `folders` (links not followed); how many.

    A later run on the same read-write mount may change the tree while it is walked (turn a
    folder listed here into a link out of the mount), so it is walked by descriptor, as
    /output is (`output_walk`): each folder is opened inside the one that listed it, with no
    link followed, and each FIFO inside its folder with ``O_NOFOLLOW``; what was opened is
    checked to be a FIFO. Nothing outside `folders` is listed or opened. Folders nested past
    `MAX_DEPTH` are not walked (the host put the FIFOs there, not the program)."""
    if not _BY_FD:
        return 0
    opened = 0
    seen = [0]
    for folder in folders:
        if seen[0] >= max_entries:
            break
        try:
            above = open_folder_nofollow(folder)
        except OSError:
            continue
        try:
            root = os.open(".", _LIST, dir_fd=above)
        except OSError:
            continue
        finally:
            os.close(above)
        opened += _walk(root, seen, max_entries)
    return opened


#: Folders below a mount walked (one descriptor held per level on the way down).
MAX_DEPTH = 64

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_LIST = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_FIFO = os.O_RDWR | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC
_BY_FD = os.open in os.supports_dir_fd and os.scandir in os.supports_fd and _NOFOLLOW != 0


def _walk(root: int, seen: list[int], max_entries: int) -> int:
    """`open_fifos_under` below the open folder `root` (closed here), depth first."""
    opened = 0
    stack: list[tuple[int, list[str]]] = []  # (folder, its subfolders not walked yet)
    fd: int | None = root
    try:
        while fd is not None or stack:
            if fd is not None:
                subfolders: list[str] = []
                stack.append((fd, subfolders))  # closed from here, whatever happens
                for name, kind in _listing(fd):
                    seen[0] += 1
                    if seen[0] > max_entries:
                        return opened
                    if stat.S_ISDIR(kind):
                        subfolders.append(name)
                    elif stat.S_ISFIFO(kind) and _open_fifo(name, fd):
                        opened += 1
                fd = None
            parent, subfolders = stack[-1]
            if not subfolders or len(stack) > MAX_DEPTH:
                os.close(stack.pop()[0])
                continue
            with contextlib.suppress(OSError):  # gone, or no longer a folder (a link: ELOOP)
                fd = os.open(subfolders.pop(), _LIST, dir_fd=parent)
    finally:
        if fd is not None:
            os.close(fd)
        for folder, _ in stack:
            os.close(folder)
    return opened


def _listing(fd: int) -> list[tuple[str, int]]:
    """(name, type bits) of the entries of the open folder `fd`, not following links."""
    listed: list[tuple[str, int]] = []
    with contextlib.suppress(OSError), os.scandir(fd) as it:
        for entry in it:
            with contextlib.suppress(OSError):
                listed.append((entry.name, entry.stat(follow_symlinks=False).st_mode))
    return listed


def _open_fifo(name: str, folder: int) -> bool:
    """Open and close the FIFO `name` inside `folder`; whether a FIFO was opened."""
    try:
        fd = os.open(name, _FIFO, dir_fd=folder)
    except OSError:
        return False
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
