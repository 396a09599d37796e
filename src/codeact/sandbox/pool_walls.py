"""Which walls a backend's pool prepares its sandboxes with, and when a run's walls are the same.

A pooled sandbox is made before its run is known: the wasm pool's instances have their folders
preopened, the jail's children their limits set and their folders bound. A run may take one
only if it asks for exactly those walls; otherwise it gets a sandbox made for it, on its own
path. `PoolWalls` decides what the pool prepares: the walls of the runs that come, so that a
`CodeAct` with file mounts or limits of its own gets pooled sandboxes too, without a pool
that several `CodeAct`s with different walls share being remade at every run.

A folder granted to a run is the same folder only while the path still leads to it: its
`identity` (device and inode) is part of the walls, so a pooled sandbox that opened or bound
a folder since replaced at that path (or removed) is never handed a run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Generic, Protocol, TypeAlias, TypeVar

from ..policy.mounts import open_granted_folder

__all__ = ["Folders", "PoolWalls", "folders", "identity"]

W = TypeVar("W")

#: Granted folders as walls: (host path, sandbox path, writable, `identity`) each.
Folders: TypeAlias = tuple[tuple[str, str, bool, "tuple[int, int] | None"], ...]


class _Granted(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def guest(self) -> str: ...
    @property
    def writable(self) -> bool: ...


def folders(granted: Iterable[_Granted]) -> Folders:
    """Granted folders (mounts, preopens) as they are at their paths now."""
    return tuple(
        (g.host, g.guest, g.writable, identity(g.host, exact=getattr(g, "exact", True)))
        for g in granted
    )


def identity(path: str, *, exact: bool = True) -> tuple[int, int] | None:
    """The folder at `path` now, as (device, inode); None if there is none (the sandbox made
    for the run then says what is wrong). `exact`: reached without following any link, as
    sandboxes open a granted folder (`open_granted_folder`); else links are followed (the
    package tree in the user cache, which no program can change)."""
    try:
        if not exact:
            found = Path(path).stat()
        else:
            fd = open_granted_folder(path)
            try:
                found = os.fstat(fd)
            finally:
                os.close(fd)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class PoolWalls(Generic[W]):
    """The walls a pool prepares for (`current`): moved to a run's by the first run of all,
    and by a run whose walls the run before it asked for too.

    So the first run of a `CodeAct` with walls of its own moves the pool, a `CodeAct` whose
    walls change moves it on its second run with the new ones, and `CodeAct`s that share a
    backend (every `CodeAct(backend="jail")` of a process does) and take turns leave it with
    the walls it has instead of remaking it at every run.
    """

    def __init__(self, initial: W) -> None:
        self.current = initial
        self._last: W | None = None
        self._lock = threading.Lock()

    @property
    def steady(self) -> bool:
        """Whether the last run asked for the pool's walls (or no run came yet): sandboxes
        made for them now are likely to be used."""
        last = self._last
        return last is None or last == self.current

    def ask(self, walls: W) -> bool:
        """A run asks for `walls`; True if the pool must now prepare them instead (what it
        holds has other walls: the caller discards it)."""
        with self._lock:
            last, self._last = self._last, walls
            if walls == self.current or (last is not None and last != walls):
                return False
            self.current = walls
            return True
