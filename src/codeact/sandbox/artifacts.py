"""Output artifacts: each execution's private /output directory on the host, and what comes
back from it.

Every sandbox gets a fresh, empty host directory mounted read-write at ``/output``. After the
program ends, `collect_outputs` reads the regular files there (within `OutputLimits`) and
the directory is deleted, so the next execution never sees them. Backends share this module.

The program controls what is in that directory, so it is read like untrusted input: nothing
is followed (a symlink the program made, even one pointing at a host file, is skipped, never
read), only regular files are opened (with ``O_NOFOLLOW``), and sizes are checked before
reading. `disk_usage` lets a backend stop a program that writes far past the limits while it
runs, so it cannot fill the host's disk.
"""

from __future__ import annotations

import atexit
import mimetypes
import os
import re
import stat
import tempfile
import threading
import time
from pathlib import Path

from ..bridge import stops
from ..bridge.protocol import OutputFile, Stop
from ..policy.outputs import OutputLimits
from . import forks
from .cleanup import REMOVER, remove_tree
from .output_walk import BY_FD, disk_usage, walk_entries
from .output_walk import held_open as held_open_by

__all__ = [
    "OutputsClosedError",
    "collect_outputs",
    "disk_usage",
    "leftover_roots",
    "new_output_dir",
    "output_overflow",
    "outputs_closed",
    "release_process_tree",
    "remove_output_dir",
    "remove_process_tree",
    "remove_trees_of",
]

_root: str | None = None
_root_lock = threading.Lock()
_exiting = False
_types = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
# A FIFO swapped in for a file between the walk and the open (by a thread of the program still
# dying) would block a plain open until a writer comes: never.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class OutputsClosedError(RuntimeError):
    """The process is exiting: no new sandbox gets an /output directory any more."""


def new_output_dir() -> str:
    """A new empty directory for one sandbox's /output (under one per-process temp dir
    that is removed when the process exits).

    Raises `OutputsClosedError` once the process has begun to exit (a pool's thread that
    is still warming an instance then stops quietly instead of writing into a tree that
    is being removed)."""
    global _root
    with _root_lock:
        if _exiting:
            raise OutputsClosedError("the process is exiting: no new sandboxes")
        if _root is None or not Path(_root).is_dir():
            if _root is None:  # once per process, on the remover's thread: off this lock
                REMOVER.run_later(_remove_leftovers)
            _root = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")
            atexit.register(_remove_root_at_exit, _root, os.getpid())
        root = _root
        return tempfile.mkdtemp(dir=root)


_PREFIX = "codeact-output-"
_ROOT_NAME = re.compile(re.escape(_PREFIX) + r"([0-9]+)-[A-Za-z0-9_]+$")
#: A per-process tree left by a process that is gone is removed once nothing has changed in
#: it for this long (seconds): in a /tmp shared by containers, a process of another PID
#: namespace looks gone from here, but a live one changes its tree at every execution.
LEFTOVER_AGE = 3600.0


def leftover_roots(tempdir: str, *, now: float | None = None) -> list[str]:
    """Per-process /output trees in `tempdir` that a process killed before its exit handlers
    ran left behind (SIGKILL, a crash, the machine's power): ours (same user), named for a
    process that no longer exists, untouched for `LEFTOVER_AGE` seconds."""
    now = time.time() if now is None else now
    found: list[str] = []
    if os.name != "posix":  # os.kill(pid, 0) asks whether it lives on POSIX only
        return found
    try:
        entries = list(os.scandir(tempdir))
    except OSError:
        return found
    for entry in entries:
        match = _ROOT_NAME.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        old = now - info.st_mtime > LEFTOVER_AGE
        mine = info.st_uid == os.getuid() and stat.S_ISDIR(info.st_mode)
        if mine and old and not _alive(int(match.group(1))):
            found.append(entry.path)
    return found


def remove_trees_of(pid: int, tempdir: str | None = None) -> list[str]:
    """Remove now the per-process trees that process `pid`, known to have been killed (a
    pool's actor that died), left in `tempdir`: ours, and only if `pid` is gone. Without
    that word, such a tree waits `LEFTOVER_AGE` for the next process to remove it."""
    removed: list[str] = []
    if os.name != "posix" or _alive(pid):
        return removed
    try:
        entries = list(os.scandir(tempdir or tempfile.gettempdir()))
    except OSError:
        return removed
    for entry in entries:
        match = _ROOT_NAME.match(entry.name)
        if match is None or int(match.group(1)) != pid:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid == os.getuid() and stat.S_ISDIR(info.st_mode):
            remove_tree(entry.path)
            removed.append(entry.path)
    return removed


def _remove_leftovers() -> None:
    for left in leftover_roots(tempfile.gettempdir()):
        REMOVER.remove_later(left)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError, OSError):
        return True  # someone else's process, or not a pid we can ask about: leave it
    return True


def _remove_root_at_exit(root: str, owner: int) -> None:
    """Remove the per-process tree at exit. Threads of ours may still be at work in it (the
    remover emptying a used /output, a pool that was warming an instance): new directories
    are refused from here on, and the removal is tried again while they finish, so a clean
    exit prints nothing. A forked child inherits this handler: the tree is its parent's
    (`owner`), still in use, and stays."""
    global _exiting
    if os.getpid() != owner:
        return
    with _root_lock:
        _exiting = True
    _remove_patiently(root)


def _remove_patiently(root: str) -> None:
    """Remove `root`, trying again while a thread of ours still at work in it makes a try
    fail (about a second in all; a warning only on the last try)."""
    for attempt, pause in enumerate(_EXIT_PAUSES):
        if remove_tree(root, warn=attempt == len(_EXIT_PAUSES) - 1):
            return
        time.sleep(pause)


#: Pauses between the tries to remove the tree at exit (about 1 s in all, only while a
#: thread still at work in it, slow on a busy machine, makes a try fail).
_EXIT_PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.0)


def outputs_closed() -> bool:
    """Whether the process has begun to exit: its /output tree is being removed, and an
    instance made meanwhile may fail for it (its folder gone under it)."""
    return _exiting


def remove_process_tree() -> None:
    """Remove this process's tree now, for a process about to end without running its exit
    handlers (`os._exit`). New /output directories are refused from here on."""
    with _root_lock:
        root = _root
    if root is not None:
        _remove_root_at_exit(root, os.getpid())


def release_process_tree(settle: float = 0.3) -> None:
    """Remove this process's tree now, once none of its sandboxes is left (their backends
    closed), for a process that goes on to other work and may end without its exit handlers
    (a Ray task worker between tasks): the next sandbox starts a new tree. For `settle`
    seconds a tree that a closed backend's thread still made (a warm pool's last instance)
    is removed too."""
    global _root
    deadline = time.monotonic() + settle
    while True:
        with _root_lock:
            root, _root = _root, None
        if root is not None:
            _remove_patiently(root)
        if time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def remove_output_dir(path: str) -> None:
    """Delete an output directory (the wasm pool does this off the caller's path).

    Never raises: the program shaped the tree (any depth, links, modes), see `remove_tree`."""
    try:
        Path(path).rmdir()  # the usual case, an empty /output (a tree walk costs more)
    except OSError:
        remove_tree(path)


def output_overflow(
    path: str,
    limits: OutputLimits,
    *,
    pid: int | None = None,
    seen_as: str | None = None,
    held_open: int = 0,
) -> Stop | None:
    """A stop when the program wrote far past `limits` under /output (so it cannot fill the
    host's disk); None while it stays within `OutputLimits.disk_bytes`/`disk_entries`. With
    the `pid` of the process the program runs in, files it removed from /output but holds
    (open in any thread, or mapped) count too (they hold disk no name under /output shows,
    `output_walk.held_open`); `seen_as` is the folder as
    that process's descriptors name it (its own root's view: `path` by default). `held_open`:
    the bytes of such files, counted by the caller."""
    size, entries = disk_usage(path, max_entries=limits.disk_entries)
    size += held_open
    if pid is not None:
        size += held_open_by(pid, seen_as or path)
    if size <= limits.disk_bytes and entries <= limits.disk_entries:
        return None
    return stops.output_files(limits)


def collect_outputs(path: str, limits: OutputLimits) -> tuple[list[OutputFile], list[str]]:
    """The files under `path` that fit `limits`, in path order, and a note for each one
    that was not returned (and why)."""
    files: list[OutputFile] = []
    skipped: list[str] = []
    total = 0
    for rel, info in _walk(path, skipped, limits.disk_entries):
        if not stat.S_ISREG(info.st_mode):
            kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a regular file"
            skipped.append(f"{rel}: {kind}, not returned")
            continue
        if len(files) >= limits.max_files:
            skipped.append(f"{rel}: over OutputLimits.max_files={limits.max_files}")
            continue
        if info.st_size > limits.max_file_bytes:
            skipped.append(
                f"{rel}: {info.st_size} bytes, over OutputLimits.max_file_bytes="
                f"{limits.max_file_bytes}"
            )
            continue
        if total + info.st_size > limits.max_total_bytes:
            skipped.append(
                f"{rel}: would pass OutputLimits.max_total_bytes={limits.max_total_bytes}"
            )
            continue
        data = _read_regular(path, rel, limits.max_file_bytes)
        if data is None:
            skipped.append(f"{rel}: could not be read safely, not returned")
            continue
        total += len(data)
        media_type = _types.guess_type(rel, strict=False)[0] or "application/octet-stream"
        files.append(OutputFile(rel, media_type, data))
    return files, skipped


def _walk(root: str, skipped: list[str], max_entries: int) -> list[tuple[str, os.stat_result]]:
    """(relative posix path, lstat) of every non-directory under `root`, sorted by path,
    walked by descriptor without following links (`output_walk.walk_entries`): a folder that
    became a link to a host folder since it was seen (a thread of the program may still be
    dying) is not listed, nor one that cannot be."""
    found: list[tuple[str, os.stat_result]] = []
    for seen, (rel, info) in enumerate(walk_entries(root, strict=False), 1):
        if seen > max_entries:
            skipped.append(f"more than {max_entries} entries under /output; the rest ignored")
            break
        if not stat.S_ISDIR(info.st_mode):
            found.append((rel, info))
    return sorted(found, key=lambda item: item[0])


def _open_beneath(root: str, rel: str, *, directory: bool) -> int:
    """A descriptor of `rel` under `root`, no link followed at any level (where the system
    allows: elsewhere, the last component only)."""
    flags = os.O_RDONLY | _NOFOLLOW | _BINARY | _NONBLOCK
    parts = [p for p in rel.split("/") if p] if rel else []
    if not BY_FD:
        return os.open(Path(root, *parts), flags | (_DIRECTORY if directory else 0))
    fd = os.open(root, flags | _DIRECTORY)
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            kind = _DIRECTORY if directory or not last else 0
            next_fd = os.open(part, flags | kind, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_regular(root: str, rel: str, limit: int) -> bytes | None:
    """The bytes of the regular file `rel` under `root`; None if it is anything else (a link
    swapped in, at any level, or a special file) or grew past `limit`."""
    try:
        fd = _open_beneath(root, rel, directory=False)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


@forks.on_fork_in_child
def _own_root_after_fork() -> None:
    """A forked child makes its own tree: the parent's is the parent's to use and remove."""
    global _root, _root_lock
    _root = None
    _root_lock = threading.Lock()
