"""Walking a sandbox's /output folder on the host: what it holds (`walk_entries`), how much
disk that is (`disk_usage`), and what the program keeps open after removing it (`held_open`).

The program controls the tree, so it is walked like untrusted input: by descriptor, one
folder at a time, no link followed, depth first, so no host path grows long (walking by path,
a subtree past PATH_MAX failed to list and went uncounted: a program wrote 1.2 GB under a
74 MiB limit). The top `_HELD` folders on the way down keep their descriptor and deeper ones
are opened again from the deepest held one, so a deep tree neither holds many descriptors nor
(below that budget) costs more than one open per folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "DELETED",
    "MAX_DEPTH",
    "TooDeep",
    "disk_held",
    "disk_usage",
    "held_open",
    "removed_path",
    "walk_entries",
]

#: Folders under /output nested deeper than this are not walked (`TooDeep`).
MAX_DEPTH = 4096

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_FOLDER_FLAGS = os.O_RDONLY | _NOFOLLOW | _DIRECTORY | getattr(os, "O_CLOEXEC", 0)
#: Whether folders can be opened relative to a descriptor and listed by it (POSIX: yes).
BY_FD = os.open in os.supports_dir_fd and os.scandir in os.supports_fd


class TooDeep(OSError):
    """A folder nested past `MAX_DEPTH`: what is under it is not known."""


def _held_budget() -> int:
    """Folders on the way down that keep a descriptor while walking below them: an eighth of
    the process's descriptors (deeper ones are opened again from the deepest held one, which
    costs time quadratic in the depth past it), from 16 to `MAX_DEPTH`."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 64
    if soft == resource.RLIM_INFINITY:
        return MAX_DEPTH
    return max(16, min(MAX_DEPTH, soft // 8))


_HELD = _held_budget()

_Frame = tuple[int | None, str, list[str]]  # (descriptor if held, relative path, subfolders left)


def walk_entries(root: str, *, strict: bool) -> Iterator[tuple[str, os.stat_result]]:
    """(relative posix path, lstat) of every entry under `root`, folders included, depth
    first, by descriptor (see the module). A folder that cannot be listed, or is nested
    past `MAX_DEPTH`, raises OSError (`TooDeep`) when `strict`, and is skipped otherwise; an
    entry removed since it was listed is skipped."""
    if not BY_FD:
        yield from _walk_by_path(root, strict=strict)
        return
    frames: list[_Frame] = []
    try:
        fd: int | None = os.open(root, _FOLDER_FLAGS)
    except FileNotFoundError:
        return
    rel = ""
    try:
        while fd is not None or frames:
            if fd is not None:
                held = fd if len(frames) < _HELD else None
                subfolders: list[str] = []
                frames.append((held, rel, subfolders))  # closed from here, whatever happens
                try:
                    listed = _listing(fd)
                finally:
                    if held is None:
                        os.close(fd)
                fd = None
                for name, info in listed:
                    path = f"{rel}/{name}" if rel else name
                    if stat.S_ISDIR(info.st_mode):
                        subfolders.append(path)
                    yield path, info
            subfolders = frames[-1][2]
            if not subfolders:
                done = frames.pop()[0]
                if done is not None:
                    os.close(done)
                continue
            rel = subfolders.pop()
            if len(frames) >= MAX_DEPTH:
                if strict:
                    raise TooDeep(f"/output is nested more than {MAX_DEPTH} folders deep")
                continue
            try:
                fd = _open_below(frames, rel)
            except FileNotFoundError:  # removed since it was listed
                fd = None
            except OSError:
                if strict:
                    raise
                fd = None
    finally:
        for held_fd, _, _ in frames:
            if held_fd is not None:
                os.close(held_fd)


def _listing(fd: int) -> list[tuple[str, os.stat_result]]:
    listed = []
    with os.scandir(fd) as it:
        for entry in it:
            try:
                listed.append((entry.name, entry.stat(follow_symlinks=False)))
            except FileNotFoundError:  # removed since it was listed
                continue
    return listed


def _open_below(frames: list[_Frame], rel: str) -> int:
    """The folder `rel` (inside the deepest frame's folder), opened from the deepest frame
    that holds a descriptor, one component at a time, no link followed."""
    base = max(i for i, frame in enumerate(frames) if frame[0] is not None)
    start = frames[base][0]
    assert start is not None
    skip = len(frames[base][1].split("/")) if frames[base][1] else 0
    fd = start
    try:
        for part in rel.split("/")[skip:]:
            inner = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            if fd != start:
                os.close(fd)
            fd = inner
    except BaseException:
        if fd != start:
            os.close(fd)
        raise
    return fd


def _walk_by_path(root: str, *, strict: bool) -> Iterator[tuple[str, os.stat_result]]:
    """`walk_entries` where folders cannot be listed by descriptor (Windows)."""
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(Path(root, *rel.split("/")) if rel else root) as it:
                listed = [(e.name, e.stat(follow_symlinks=False)) for e in it]
        except FileNotFoundError:
            continue
        except OSError:
            if strict:
                raise
            continue
        for name, info in listed:
            path = f"{rel}/{name}" if rel else name
            if stat.S_ISDIR(info.st_mode):
                stack.append(path)
            yield path, info


def disk_usage(path: str, *, max_entries: int) -> tuple[int, int]:
    """(bytes, entries) under `path`, without following links; stops counting past
    `max_entries` entries (the caller only needs to know it is over).

    A file counts the larger of its size and the disk it holds: a sparse file (a write far past
    its end) holds less than its size, a preallocated one (fallocate with
    FALLOC_FL_KEEP_SIZE, where a backend lets it through) far more. A folder that cannot be
    listed, or one nested past `MAX_DEPTH`, counts as over: nothing under it is known."""
    total = entries = 0
    try:
        for _, info in walk_entries(path, strict=True):
            entries += 1
            total += disk_held(info)
            if entries > max_entries:
                break
    except OSError:
        return total, max_entries + 1
    return total, entries


#: What the kernel appends to a descriptor's link in /proc when its file was removed.
DELETED = " (deleted)"


def disk_held(info: os.stat_result) -> int:
    """What a file counts against the output limits: its size or the disk it holds, the
    larger (a sparse file holds less, a preallocated one more)."""
    return max(info.st_size, info.st_blocks * 512)


def removed_path(target: str) -> str | None:
    """The path a descriptor's link (`target`, read from /proc) names when its file was
    removed, None when the file is still there."""
    return target[: -len(DELETED)] if target.endswith(DELETED) else None


def held_open(pid: int, path: str) -> int:
    """Bytes of disk held by files under `path` (as the process names it) that process `pid`
    removed but keeps open (read from /proc: its descriptors' targets end in `` (deleted)``);
    0 where there is no /proc or the process is gone."""
    prefix = path.rstrip("/") + "/"
    total = 0
    try:
        entries = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return 0
    for entry in entries:
        try:
            removed = removed_path(str(entry.readlink()))
            if removed is None or not removed.startswith(prefix):
                continue
            info = entry.stat()  # the open file itself, through /proc
        except OSError:
            continue
        total += disk_held(info)
    return total
