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

__all__ = [
    "OutputsClosedError",
    "collect_outputs",
    "disk_usage",
    "leftover_roots",
    "new_output_dir",
    "output_overflow",
    "remove_output_dir",
    "remove_process_tree",
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
#: Whether folders can be opened relative to a descriptor and listed by it (POSIX: yes).
_BY_FD = os.open in os.supports_dir_fd and os.scandir in os.supports_fd


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
    for attempt in range(_EXIT_ATTEMPTS):
        if remove_tree(root, warn=attempt == _EXIT_ATTEMPTS - 1):
            return
        time.sleep(0.01 * (attempt + 1))


_EXIT_ATTEMPTS = 5


def remove_process_tree() -> None:
    """Remove this process's tree now, for a process about to end without running its exit
    handlers (`os._exit`). New /output directories are refused from here on."""
    with _root_lock:
        root = _root
    if root is not None:
        _remove_root_at_exit(root, os.getpid())


def remove_output_dir(path: str) -> None:
    """Delete an output directory (the wasm pool does this off the caller's path).

    Never raises: the program shaped the tree (any depth, links, modes), see `remove_tree`."""
    try:
        Path(path).rmdir()  # the usual case, an empty /output (a tree walk costs more)
    except OSError:
        remove_tree(path)


def disk_usage(path: str, *, max_entries: int) -> tuple[int, int]:
    """(bytes, entries) under `path`, without following links; stops counting past
    `max_entries` entries (the caller only needs to know it is over).

    A file counts the larger of its size and the disk it holds: a sparse file (a write far past
    its end) holds less than its size, a preallocated one (fallocate with
    FALLOC_FL_KEEP_SIZE, where a backend lets it through) far more. Folders are walked by
    descriptor, depth first, so no host path grows long: a tree nested past the host's
    PATH_MAX is counted too (walking by path, such a subtree failed to list and was skipped,
    so a program could write there without limit). A folder nested deeper than `MAX_DEPTH`,
    or one that cannot be listed, counts as over: nothing under it is known."""
    if not _BY_FD:
        return _disk_usage_by_path(path, max_entries=max_entries)
    over = (0, max_entries + 1)
    try:
        root = os.open(path, _FOLDER_FLAGS)
    except FileNotFoundError:
        return 0, 0
    except OSError:
        return over
    total = entries = 0
    # Depth first: one frame per folder on the way down, (its descriptor, its name, the
    # subfolders left). Only the top `_HELD` frames keep their descriptor; deeper folders are
    # opened from the deepest held one by name, so a deep tree holds few descriptors.
    frames: list[tuple[int | None, str, list[str]]] = []
    try:
        fd: int | None = root
        name = ""
        while fd is not None or frames:
            if fd is not None:
                subfolders: list[str] = []
                held = fd if len(frames) < _HELD else None
                frames.append((held, name, subfolders))  # closed from here, whatever happens
                try:
                    with os.scandir(fd) as it:
                        for entry in it:
                            entries += 1
                            try:
                                info = entry.stat(follow_symlinks=False)
                            except FileNotFoundError:  # removed since it was listed
                                continue
                            total += max(info.st_size, info.st_blocks * 512)
                            if stat.S_ISDIR(info.st_mode):
                                subfolders.append(entry.name)
                finally:
                    if held is None:
                        os.close(fd)
                fd = None
            if entries > max_entries:
                return total, entries
            subfolders = frames[-1][2]
            if not subfolders:
                done = frames.pop()[0]
                if done is not None:
                    os.close(done)
                continue
            if len(frames) >= MAX_DEPTH:
                return over
            name = subfolders.pop()
            try:
                fd = _open_folder_below(frames, name)
            except FileNotFoundError:  # removed since it was listed
                fd = None
    except OSError:
        return over
    finally:
        for held_fd, _, _ in frames:
            if held_fd is not None:
                os.close(held_fd)
    return total, entries


def _open_folder_below(frames: list[tuple[int | None, str, list[str]]], name: str) -> int:
    """The folder `name` inside the deepest frame's folder, opened from the deepest frame
    that holds a descriptor, one component at a time, no link followed."""
    base = max(i for i, frame in enumerate(frames) if frame[0] is not None)
    start = frames[base][0]
    assert start is not None
    fd = start
    try:
        for part in [frame[1] for frame in frames[base + 1 :]] + [name]:
            inner = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            if fd != start:
                os.close(fd)
            fd = inner
    except BaseException:
        if fd != start:
            os.close(fd)
        raise
    return fd


#: Folders under /output nested deeper than this count as over the output limit.
MAX_DEPTH = 4096
#: Folders on the way down that keep a descriptor while `disk_usage` walks below them.
_HELD = 64
_FOLDER_FLAGS = os.O_RDONLY | _NOFOLLOW | _DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def _disk_usage_by_path(path: str, *, max_entries: int) -> tuple[int, int]:
    """`disk_usage` where folders cannot be listed by descriptor (Windows)."""
    total = entries = 0
    stack = [path]
    while stack and entries <= max_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    entries += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    total += max(info.st_size, info.st_blocks * 512)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
        except FileNotFoundError:
            continue
        except OSError:
            return total, max_entries + 1
    return total, entries


def output_overflow(path: str, limits: OutputLimits) -> Stop | None:
    """A stop when the program wrote far past `limits` under /output (so it cannot fill the
    host's disk); None while it stays within `OutputLimits.disk_bytes`/`disk_entries`."""
    size, entries = disk_usage(path, max_entries=limits.disk_entries)
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
    """(relative posix path, lstat) of every non-directory under `root`, sorted by path.

    Each folder is listed through a descriptor opened one component at a time without
    following links (`_open_beneath`): a folder that became a link to a host folder since it
    was seen (a thread of the program may still be dying) is not listed."""
    found: list[tuple[str, os.stat_result]] = []
    stack = [""]
    seen = 0
    while stack:
        rel_dir = stack.pop()
        try:
            listed = _list_beneath(root, rel_dir)
        except OSError:
            continue
        for name, info in listed:
            seen += 1
            if seen > max_entries:
                skipped.append(f"more than {max_entries} entries under /output; the rest ignored")
                return sorted(found, key=lambda item: item[0])
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if info is None:
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append(rel)
            else:
                found.append((rel, info))
    return sorted(found, key=lambda item: item[0])


def _list_beneath(root: str, rel_dir: str) -> list[tuple[str, os.stat_result | None]]:
    """The entries of the folder `rel_dir` under `root` with their lstat (None when it
    failed), listed through a descriptor that `_open_beneath` opened."""
    fd = _open_beneath(root, rel_dir, directory=True)
    try:
        target: int | Path = fd if _BY_FD else Path(root, *rel_dir.split("/"))
        listed: list[tuple[str, os.stat_result | None]] = []
        with os.scandir(target) as it:
            for entry in it:
                try:
                    info: os.stat_result | None = entry.stat(follow_symlinks=False)
                except OSError:
                    info = None
                listed.append((entry.name, info))
        return listed
    finally:
        os.close(fd)


def _open_beneath(root: str, rel: str, *, directory: bool) -> int:
    """A descriptor of `rel` under `root`, no link followed at any level (where the system
    allows: elsewhere, the last component only)."""
    flags = os.O_RDONLY | _NOFOLLOW | _BINARY | _NONBLOCK
    parts = [p for p in rel.split("/") if p] if rel else []
    if not _BY_FD:
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
