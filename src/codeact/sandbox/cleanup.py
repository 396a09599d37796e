"""`remove_tree`: delete a directory tree that a sandboxed program wrote, whatever its shape.

The program controls the tree, so its removal must not fail on anything the program can
build: nesting thousands of levels deep (`shutil.rmtree` recurses, and on Python < 3.14 a
deep tree raises RecursionError, which ``ignore_errors`` does not catch), paths longer than
the system's PATH_MAX, symlinks (removed, never followed), and directories or files it made
unreadable or unwritable.

How: the tree is flattened instead of descended. Each directory is listed once; its files
and links are unlinked, and each subdirectory is renamed up to the root under a fresh name
and queued. No path is ever more than two levels below the root, there is no recursion and
no open descriptor per level, so the work is bounded by the number of entries alone.
Nothing raises: what cannot be removed is logged once with a count.
"""

# Raw paths and renames on purpose: no Path object per entry of a huge tree.
# ruff: noqa: PTH101, PTH104, PTH106, PTH118
from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

__all__ = ["REMOVER", "TreeRemover", "remove_tree"]

log = logging.getLogger("codeact.sandbox")

_OWNER_RWX = stat.S_IRWXU


def remove_tree(root: str, *, warn: bool = True) -> bool:
    """Delete `root` and everything under it; True when it is gone. Never raises.

    What could not be removed is logged as a warning unless `warn` is False (a caller that
    tries again, racing a writer it is stopping, warns only on its last try)."""
    try:
        return _remove(root, warn=warn)
    except Exception:  # a bug of ours must not kill the thread that frees sandboxes
        log.exception("could not remove %s", root)
        return False


def _remove(root: str, *, warn: bool) -> bool:
    if _BY_FD:
        return _remove_by_fd(root, warn=warn)
    try:
        info = os.lstat(root)
    except FileNotFoundError:
        return True
    if not stat.S_ISDIR(info.st_mode):
        return _unlink(root)
    failures: list[str] = []
    _make_usable(root)
    prefix = f".codeact-rm-{secrets.token_hex(4)}-"
    moved = 0
    pending: deque[str] = deque([""])  # directories to empty, relative to root ("" = root)
    emptied: list[str] = []  # names under root, removed once emptied
    while pending:
        rel = pending.popleft()
        here = os.path.join(root, rel) if rel else root
        entries = _list(here, failures)
        if entries is None:
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir:
                if not _unlink(entry.path):
                    failures.append(entry.path)
                continue
            if not rel:  # already at the top: empty it in place
                pending.append(entry.name)
                emptied.append(entry.name)
                continue
            moved += 1
            name = f"{prefix}{moved}"
            try:
                os.rename(entry.path, os.path.join(root, name))
            except FileNotFoundError:
                continue  # gone already (another removal of the same tree at exit)
            except OSError:
                failures.append(entry.path)
                continue
            pending.append(name)
            emptied.append(name)
    for name in emptied:
        path = os.path.join(root, name)
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            failures.append(path)
    _remove_root(root, failures)
    return _reported(failures, root, warn=warn)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_O_PATH = getattr(os, "O_PATH", 0)
#: Whether folders are opened inside the folder that listed them, no link followed.
_BY_FD = (
    _NOFOLLOW != 0
    and {os.open, os.unlink, os.rename, os.rmdir} <= os.supports_dir_fd
    and os.scandir in os.supports_fd
)


def _remove_by_fd(root: str, *, warn: bool) -> bool:
    """`_remove` by descriptor: each folder is opened inside the one that listed it (the
    root's) without following a link, and its entries are unlinked and renamed by name
    inside it. A writer still at work in the tree (a program's thread that is dying) may
    turn a folder queued here into a link to a host folder: that link is removed, and
    nothing it leads to is listed, changed or deleted (by path, it was all three)."""
    failures: list[str] = []
    try:
        top = _open_folder(root, None)
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a file, or a link: not followed
            return _unlink(root)
        failures.append(f"{root} ({exc.strerror})")
        top = None
    if top is not None:
        try:
            _empty(top, root, failures)
        finally:
            os.close(top)
        _remove_root(root, failures)
    return _reported(failures, root, warn=warn)


def _remove_root(root: str, failures: list[str]) -> None:
    """Remove the emptied folder `root` itself (gone already is fine)."""
    try:
        os.rmdir(root)
    except FileNotFoundError:
        pass
    except OSError as exc:
        failures.append(f"{root} ({exc.strerror})")


def _reported(failures: list[str], root: str, *, warn: bool) -> bool:
    """Whether `root` went whole; what stayed is logged (once, its first entry) if `warn`."""
    if failures and warn:
        log.warning(
            "could not remove %d entries under %s (first: %s)", len(failures), root, failures[0]
        )
    return not failures


def _empty(top: int, root: str, failures: list[str]) -> None:
    """Empty the folder `top` (at `root`, for messages): flattened as `_remove` does."""
    prefix = f".codeact-rm-{secrets.token_hex(4)}-"
    moved = 0
    pending: deque[str] = deque([""])  # folders to empty, by name in `top` ("" = top)
    emptied: list[str] = []
    while pending:
        rel = pending.popleft()
        try:
            fd = top if not rel else _open_folder(rel, top)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not _unlink_at(rel, top):
                failures.append(os.path.join(root, rel))
            continue
        try:
            entries = _listing(fd, failures, os.path.join(root, rel))
            for name, is_dir in entries:
                if not is_dir:
                    if not _unlink_at(name, fd):
                        failures.append(os.path.join(root, rel, name))
                    continue
                if not rel:  # already at the top: empty it in place
                    pending.append(name)
                    emptied.append(name)
                    continue
                moved += 1
                new = f"{prefix}{moved}"
                try:  # a link swapped in is moved, not followed; then unlinked above
                    os.rename(name, new, src_dir_fd=fd, dst_dir_fd=top)
                except FileNotFoundError:
                    continue
                except OSError:
                    failures.append(os.path.join(root, rel, name))
                    continue
                pending.append(new)
                emptied.append(new)
        finally:
            if fd != top:
                os.close(fd)
    for name in emptied:
        try:
            os.rmdir(name, dir_fd=top)  # never follows a link
        except FileNotFoundError:
            pass
        except OSError:
            if not _unlink_at(name, top):  # a link swapped in since
                failures.append(os.path.join(root, name))


def _open_folder(name: str, dir_fd: int | None) -> int:
    """The folder `name` (in `dir_fd`), not followed if it is a link, made readable,
    writable and searchable by its owner first if need be (a program may have taken that
    away)."""
    try:
        fd = os.open(name, _FOLDER, dir_fd=dir_fd)
    except PermissionError:
        if not _usable_at(name, dir_fd):
            raise
        fd = os.open(name, _FOLDER, dir_fd=dir_fd)
    try:
        mode = os.fstat(fd).st_mode
        if mode & _OWNER_RWX != _OWNER_RWX:
            os.fchmod(fd, stat.S_IMODE(mode) | _OWNER_RWX)
    except OSError:
        pass
    return fd


def _usable_at(name: str, dir_fd: int | None) -> bool:
    """Give the owner rwx on the folder `name` that cannot be opened to be listed: through
    an ``O_PATH`` descriptor of it (Linux), so a link swapped in is never followed."""
    if not _O_PATH or not Path("/proc/self/fd").is_dir():
        return False
    try:
        fd = os.open(name, _O_PATH | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISDIR(info.st_mode):
            return False
        os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(info.st_mode) | _OWNER_RWX)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _listing(fd: int, failures: list[str], path: str) -> list[tuple[str, bool]]:
    """(name, is a folder) of the entries of the open folder `fd`, links not followed."""
    listed: list[tuple[str, bool]] = []
    try:
        with os.scandir(fd) as it:
            for entry in it:
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                listed.append((entry.name, is_dir))
    except FileNotFoundError:
        pass
    except OSError:
        failures.append(path)
    return listed


def _unlink_at(name: str, dir_fd: int) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def _list(path: str, failures: list[str]) -> list[os.DirEntry[str]] | None:
    """The entries of directory `path`, made readable and writable first if need be."""
    for attempt in range(2):
        try:
            with os.scandir(path) as it:
                entries = list(it)
            if attempt == 0 and not os.access(path, os.W_OK | os.X_OK):
                _make_usable(path)
            return entries
        except PermissionError:
            if attempt == 0 and _make_usable(path):
                continue
            failures.append(path)
            return None
        except FileNotFoundError:
            return None
        except OSError:
            failures.append(path)
            return None
    return None


def _make_usable(path: str) -> bool:
    """Give the owner rwx on directory `path` (a program may have taken it away)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):  # never chmod through a link
            return False
        if info.st_mode & _OWNER_RWX != _OWNER_RWX:
            os.chmod(path, stat.S_IMODE(info.st_mode) | _OWNER_RWX)
        return True
    except OSError:
        return False


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return True
    except PermissionError:
        # Windows refuses to delete a read-only file; elsewhere it is the directory's mode.
        try:
            info = os.lstat(path)
            if not stat.S_ISLNK(info.st_mode):
                os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
            _make_usable(str(Path(path).parent))
            os.unlink(path)
            return True
        except OSError:
            return False
    except OSError:
        return False


class TreeRemover:
    """Removes trees on a thread of its own, so that whoever hands one over (the wasm pool,
    freeing tens of MB per instance) never waits for the file system: a deep tree costs a
    few ms per directory on a slow disk. The thread is started again if it ever ends."""

    def __init__(self, name: str = "codeact-cleanup") -> None:
        self._name = name
        self._queue: deque[str | Callable[[], None]] = deque()
        self._busy = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def remove_later(self, path: str) -> None:
        self._put(path)

    def run_later(self, job: Callable[[], None]) -> None:
        """Run `job` on the remover's thread (work of the same kind: finding trees to
        remove), in turn with the removals."""
        self._put(job)

    def _put(self, item: str | Callable[[], None]) -> None:
        self._queue.append(item)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._wake.set()

    def pending(self) -> int:
        """Removals and jobs not finished yet (the one under way included)."""
        return len(self._queue) + self._busy

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._queue:
                self._busy = 1  # before the pop: pending() never reads 0 while work is left
                item = self._queue.popleft()
                try:
                    if callable(item):
                        item()
                    else:
                        try:
                            os.rmdir(item)  # the usual case: an empty /output
                        except OSError:
                            remove_tree(item)
                except Exception:
                    log.exception("removing sandbox directories failed")
                finally:
                    self._busy = 0


#: The process's remover of used /output trees.
REMOVER = TreeRemover()
