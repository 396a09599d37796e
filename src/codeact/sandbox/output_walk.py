"""Walking a sandbox's /output folder on the host: what it holds (`walk_entries`), how much
disk that is (`disk_usage`), and what the program still holds after removing it, open or
mapped (`held_open`).

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
    "UNSIZED",
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


#: What a held file counts when its size cannot be read: more than any limit. A file held only
#: by a memory mapping is read through /proc/<pid>/map_files, which the kernel lets only a
#: privileged reader (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE) follow.
UNSIZED = 1 << 62


def held_open(pid: int, path: str) -> int:
    """Bytes of disk held by files under `path` (as the process names it) that process `pid`
    removed, or never named (O_TMPFILE), but still holds: by a descriptor of any of its
    threads (a thread may have a table of its own) or by a memory mapping (its descriptor
    closed, one page mapped keeps the whole file). Read from /proc, where such a file's name
    ends in `` (deleted)``; each file counts once, `UNSIZED` where its size cannot be read;
    0 where there is no /proc or the process is gone."""
    prefix = path.rstrip("/") + "/"
    try:
        found = Path(f"/proc/{pid}/task").iterdir()  # its threads, the leader first
        tasks = sorted((str(task) for task in found), key=lambda t: not t.endswith(f"/{pid}"))
    except OSError:
        return 0
    held: dict[tuple[int, int], int] = {}  # (device, inode): bytes
    for task in tasks:
        _held_by_descriptors(task, prefix, held)
    unsized = _held_by_mappings(pid, tasks, prefix, held)
    return sum(held.values()) + unsized


def _held_by_descriptors(task: str, prefix: str, held: dict[tuple[int, int], int]) -> None:
    try:
        entries = list(Path(task, "fd").iterdir())
    except OSError:
        return
    for entry in entries:
        try:
            removed = removed_path(str(entry.readlink()))
            if removed is None or not removed.startswith(prefix):
                continue
            info = entry.stat()  # the open file itself, through /proc
        except OSError:
            continue
        held[info.st_dev, info.st_ino] = disk_held(info)


def _held_by_mappings(
    pid: int, tasks: list[str], prefix: str, held: dict[tuple[int, int], int]
) -> int:
    """Adds the removed files under `prefix` that the process maps to `held`; returns
    `UNSIZED` times the number of those whose size could not be read. Every thread shares
    one address space: the first thread that still has it tells (the leader, unless it
    ended: then /proc/<pid>/map_files, which is the leader's, cannot size any)."""
    lines: list[str] = []
    leader = True
    for task in tasks:
        try:
            with open(f"{task}/maps", encoding="utf-8", errors="surrogateescape") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        if lines:
            break
        leader = False
    seen: set[tuple[int, int]] = set()
    unsized = 0
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or not fields[5].startswith(prefix):
            continue
        if removed_path(fields[5]) is None:
            continue  # still named under /output: the walk counts it
        major, _, minor = fields[3].partition(":")
        try:
            key = (os.makedev(int(major, 16), int(minor, 16)), int(fields[4]))
        except ValueError:
            continue
        if key in seen or key in held:
            continue
        seen.add(key)
        if not leader:
            unsized += 1
            continue
        try:
            info = Path(f"/proc/{pid}/map_files/{fields[0]}").stat()
        except FileNotFoundError:
            continue  # unmapped since (or the process ended)
        except OSError:
            unsized += 1
            continue
        held.setdefault((info.st_dev, info.st_ino), disk_held(info))
    return unsized * UNSIZED
