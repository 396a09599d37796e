"""The ``/input`` tree of the Agent Framework provider: a read-only snapshot of the grants.

The reference shows `workspace_root` and every file mount under one ``/input`` directory, as a
copy made on the host (a mount may be a single file, and mounts may sit inside the workspace).
This does the same: the workspace and the mounts are copied into one private directory, which
the sandbox sees read-only at ``/input``. A snapshot is reused while nothing in its sources
changed (same paths, sizes and modification times) and rebuilt when something did.

A symbolic link (or a Windows junction) inside a granted tree is refused with a `ValueError`,
as the reference refuses it: copying its target could show the program a host file outside the
granted paths, and leaving it out silently would hide a mistake. The roots themselves were
resolved when they were granted (`_grants`), so a granted path may be a link.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

from ._grants import FileMount

__all__ = ["InputStaging", "LinkRefused", "check_grants"]

Signature = tuple[object, ...]


class LinkRefused(ValueError):
    """A granted tree holds a symbolic link or junction (the reference raises ValueError too)."""


def check_grants(workspace: Path | None, mounts: Sequence[FileMount]) -> None:
    """Raise `LinkRefused` if a link sits inside the workspace or a mounted directory."""
    if workspace is not None:
        _tree_signature(workspace)
    for mount in mounts:
        _tree_signature(Path(mount.host_path))


class InputStaging:
    """Snapshots of (workspace_root, file mounts) as one directory, kept until garbage-collected.

    Shared by an `ExecuteCodeTool` and the run-scoped copies made from it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[Signature, str] = {}
        # Deletes what is left when this object is garbage-collected (or at exit); a finalizer,
        # not TemporaryDirectory's implicit clean-up, which warns (ResourceWarning).
        self._finalizer = weakref.finalize(self, _remove_all, self._snapshots)

    def directory(self, workspace: Path | None, mounts: Sequence[FileMount]) -> str | None:
        """The snapshot directory for these grants (None when nothing is granted)."""
        if workspace is None and not mounts:
            return None
        signature = (
            _tree_signature(workspace) if workspace is not None else (),
            tuple((m.mount_path, _tree_signature(Path(m.host_path))) for m in mounts),
        )
        with self._lock:
            snapshot = self._snapshots.get(signature)
            if snapshot is None:
                snapshot = tempfile.mkdtemp(prefix="codeact-input-")
                try:
                    _populate(Path(snapshot), workspace, mounts)
                except BaseException:
                    shutil.rmtree(snapshot, ignore_errors=True)
                    raise
                self._snapshots[signature] = snapshot
            return snapshot

    def close(self) -> None:
        """Delete every snapshot (runs still using one lose their /input)."""
        with self._lock:
            snapshots = dict(self._snapshots)
            self._snapshots.clear()
        _remove_all(snapshots)


def _remove_all(snapshots: dict[Signature, str]) -> None:
    for snapshot in list(snapshots.values()):
        shutil.rmtree(snapshot, ignore_errors=True)
    snapshots.clear()


def _populate(root: Path, workspace: Path | None, mounts: Sequence[FileMount]) -> None:
    if workspace is not None:
        _copy(workspace, root)
    for mount in mounts:
        target = root / mount.mount_path
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(Path(mount.host_path), target)


def _copy(source: Path, target: Path) -> None:
    """Copy a regular file or a directory tree, refusing links and leaving out special files.
    Below the root (a granted path, which may be a link) each entry is opened inside its
    folder's descriptor without following a link, then checked: an entry a concurrent writer
    swaps for a link between the listing and the copy is refused, never followed."""
    if not hasattr(os, "O_NOFOLLOW"):  # Windows: by path (no links without privileges)
        _copy_by_path(source, target)
        return
    _copy_at(None, str(source), source, target, follow=True)


def _copy_at(folder: int | None, name: str, shown: Path, target: Path, *, follow: bool) -> None:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags | (0 if follow else os.O_NOFOLLOW), dir_fd=folder)
    except OSError as exc:
        if _is_link(shown) or exc.errno == errno.ELOOP:
            raise _refused(shown) from None
        raise
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            os.set_blocking(fd, True)
            with open(fd, "rb", closefd=False) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        elif stat.S_ISDIR(info.st_mode):
            target.mkdir(parents=True, exist_ok=True)
            with os.scandir(fd) as entries:
                listed = list(entries)
            for entry in listed:
                if entry.is_symlink() or _is_link(shown / entry.name):
                    raise _refused(shown / entry.name)
                if entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False):
                    # special files are left out unopened (opening a device can act)
                    _copy_at(fd, entry.name, shown / entry.name, target / entry.name, follow=False)
    finally:
        os.close(fd)


def _copy_by_path(source: Path, target: Path) -> None:
    info = source.lstat()
    if stat.S_ISREG(info.st_mode):
        shutil.copyfile(source, target)
        return
    if not stat.S_ISDIR(info.st_mode):
        return
    target.mkdir(parents=True, exist_ok=True)
    with os.scandir(source) as entries:
        listed = list(entries)
    for entry in listed:
        if _is_link(Path(entry.path)):
            raise _refused(Path(entry.path))
        _copy_by_path(Path(entry.path), target / entry.name)


def _tree_signature(path: Path) -> Signature:
    """(relative path, kind, size, mtime) of every entry under `path`: a change of any of them
    makes a new snapshot. A link under `path` raises `LinkRefused`."""
    entries: list[tuple[str, int, int, int]] = []
    try:
        info = path.lstat()
    except OSError:
        return (str(path), "missing")
    entries.append((".", info.st_mode, info.st_size, info.st_mtime_ns))
    if stat.S_ISDIR(info.st_mode):
        for current, dirs, files in os.walk(path):
            for name in sorted(dirs) + sorted(files):
                full = Path(current) / name
                try:
                    entry = full.lstat()
                except OSError:
                    continue
                if _is_link(full, entry):
                    raise _refused(full)
                rel = str(full.relative_to(path))
                entries.append((rel, entry.st_mode, entry.st_size, entry.st_mtime_ns))
    return (str(path), tuple(entries))


def _is_link(path: Path, info: os.stat_result | None = None) -> bool:
    """A symbolic link, a Windows junction or another reparse point (never followed)."""
    try:
        info = info or path.lstat()
    except OSError:
        return False
    if stat.S_ISLNK(info.st_mode):
        return True
    reparse = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
    return bool(reparse and getattr(info, "st_file_attributes", 0) & reparse)


def _refused(path: Path) -> LinkRefused:
    try:
        target = f" (it points to {path.readlink()})"
    except OSError:
        target = ""
    return LinkRefused(
        f"Refusing to stage linked or reparse-point path for the sandbox's /input: {path}{target}; "
        "a link could reach files outside the granted paths: replace it with the file itself, "
        "or grant its target with file_mounts"
    )
