"""The ``/input`` tree of the Agent Framework provider: a read-only snapshot of the grants.

The reference shows `workspace_root` and every file mount under one ``/input`` directory, as a
copy made on the host (a mount may be a single file, and mounts may sit inside the workspace).
This does the same: the workspace and the mounts are copied into one private directory, which
the sandbox sees read-only at ``/input``. A snapshot is reused while nothing in its sources
changed (same paths, sizes and modification times) and rebuilt when something did. Symbolic
links are not copied, so nothing outside the granted paths can be reached through one.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

from ._grants import FileMount

__all__ = ["InputStaging"]

Signature = tuple[object, ...]


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
    """Copy a regular file or a directory tree, leaving out symbolic links and special files."""
    info = source.lstat()
    if stat.S_ISREG(info.st_mode):
        shutil.copyfile(source, target)
        return
    if not stat.S_ISDIR(info.st_mode):
        return
    target.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(source):
        if entry.is_symlink():
            continue
        _copy(Path(entry.path), target / entry.name)


def _tree_signature(path: Path) -> Signature:
    """(relative path, kind, size, mtime) of every entry under `path`: a change of any of them
    makes a new snapshot."""
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
                rel = str(full.relative_to(path))
                entries.append((rel, entry.st_mode, entry.st_size, entry.st_mtime_ns))
    return (str(path), tuple(entries))
