"""Where codeact keeps what it builds or downloads once per machine (the user cache)."""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .errors import ConfigurationError

__all__ = [
    "UntrustedLink",
    "atomic_write",
    "cache_dir",
    "file_lock",
    "open_child_folder",
    "open_folder_nofollow",
    "open_nofollow",
    "resolve_among",
]


def cache_dir(*parts: str) -> Path:
    """The user cache directory for codeact (created), or a subdirectory of it.

    ``CODEACT_CACHE_DIR`` overrides it; otherwise ``$XDG_CACHE_HOME/codeact`` or
    ``~/.cache/codeact`` on Linux, ``~/Library/Caches/codeact`` on macOS and
    ``%LOCALAPPDATA%\\codeact\\Cache`` on Windows.
    """
    override = os.environ.get("CODEACT_CACHE_DIR")
    if override:
        base = Path(override).expanduser()
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        base = base / "codeact" / "Cache"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "codeact"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codeact"
    path = base.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        setting = "CODEACT_CACHE_DIR" if override else "CODEACT_CACHE_DIR (or XDG_CACHE_HOME)"
        raise ConfigurationError(
            f"codeact's cache directory {path} cannot be made ({exc.strerror or exc}); set "
            f"{setting} to a directory you can write to"
        ) from None
    return path


def atomic_write(path: Path, data: bytes, *, follow_links: bool = True) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one.

    `follow_links`: a symbolic link is followed (resolved now): its target gets the data, and
    the link stays a link. Without it `path` must already be resolved (`resolve_among`), and
    no link is followed on the way: the folder is opened one component at a time without
    following links, and a link at the file's own name is replaced, not followed (a program
    with a read-write mount holding the file may have put one there)."""
    if follow_links:
        path = Path(os.path.realpath(path))
    if not _BY_FD:
        _refuse_special(os.lstat, path)
        _write_replacing(path, data)
        return
    folder = open_folder_nofollow(str(path.parent))
    tmp = f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        _refuse_special(lambda p: os.lstat(p.name, dir_fd=folder), path)
        fd = os.open(tmp, _NEW_FILE, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def _refuse_special(lstat: Callable[[Path], os.stat_result], path: Path) -> None:
    """A device, FIFO, socket or folder at `path` is not replaced by a file (as root, a
    `--json /dev/full` replaced the system's /dev/full with a regular file)."""
    try:
        mode = lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise FileExistsError(
            errno.EEXIST, "it exists and is not a regular file, so it is not replaced", str(path)
        )


def _write_replacing(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open(path, flags, mode)`` with no symbolic link followed anywhere on `path` (its
    folders opened one at a time, ``O_NOFOLLOW`` on the file): ELOOP where one is met. For
    files the host writes in folders a program may change (`resolve_among`)."""
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if not _BY_FD:
        return os.open(path, flags, mode)
    folder = open_folder_nofollow(str(path.parent))
    try:
        return os.open(path.name, flags, mode, dir_fd=folder)
    finally:
        os.close(folder)


def open_folder_nofollow(path: str) -> int:
    """A descriptor of the folder at absolute `path`, opened one component at a time without
    following any symbolic link. OSError with errno ELOOP when a component is a link,
    ENOTDIR when one is not a folder, ENOENT when one is gone.

    On Linux an ``O_PATH`` descriptor (no read permission needed on the folders above);
    elsewhere a read-only one. The caller closes it."""
    fd = os.open("/", _FOLDER)
    try:
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                raise OSError(errno.ENOENT, "a resolved path has no '..'", path)
            try:
                child = open_child_folder(part, fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.EMLINK) or _is_link(part, fd):
                    raise OSError(errno.ELOOP, "a symbolic link on the path", path) from None
                raise
            os.close(fd)
            fd = child
            if not stat.S_ISDIR(os.fstat(fd).st_mode):  # O_PATH|O_NOFOLLOW opens a link itself
                raise OSError(errno.ELOOP, "a symbolic link on the path", path)
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_child_folder(name: str, dir_fd: int) -> int:
    """The folder `name` inside the folder `dir_fd`, not followed if it is a link (as
    `open_folder_nofollow` opens each component)."""
    return os.open(name, _FOLDER, dir_fd=dir_fd)


class UntrustedLink(OSError):
    """A path leads through a symbolic link inside a folder programs may change."""

    def __init__(self, link: str, folder: str) -> None:
        super().__init__(errno.ELOOP, f"{link} is a link inside {folder}")
        self.link = link
        self.folder = folder


def resolve_among(path: Path, untrusted: Iterable[str]) -> Path:
    """`path` made absolute with its links resolved, as ``os.path.realpath`` does, except
    that a link lying inside one of the `untrusted` folders (resolved paths: the read-write
    mounts, which programs can change) is not followed: `UntrustedLink`. Links elsewhere
    are the user's own and are followed. A missing tail stays as written."""
    folders = [f.rstrip("/") or "/" for f in untrusted]
    todo = list(Path(path).absolute().parts[1:])
    current = "/"
    hops = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            current = posixpath.dirname(current)
            continue
        candidate = posixpath.join(current, part)
        try:
            found = os.lstat(candidate)
        except OSError:
            current = posixpath.join(candidate, *todo)
            break
        if not stat.S_ISLNK(found.st_mode):
            current = candidate
            continue
        inside = next((f for f in folders if current == f or current.startswith(f + "/")), None)
        if inside is not None:
            raise UntrustedLink(candidate, inside)
        hops += 1
        if hops > 40:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", str(path))
        target = Path(candidate).readlink()
        if target.is_absolute():
            current = "/"
        todo = list(target.parts[1 if target.is_absolute() else 0 :]) + todo
    return Path(current)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


_FOLDER = (
    getattr(os, "O_PATH", os.O_RDONLY)
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_NEW_FILE = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
#: Whether files can be opened relative to a folder's descriptor (not on Windows).
_BY_FD = os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd


@contextlib.contextmanager
def file_lock(
    path: Path,
    *,
    timeout: float | None = 600.0,
    on_wait: Callable[[], object] | None = None,
    notice_after: float = 1.0,
) -> Iterator[None]:
    """Hold an exclusive lock file between processes (builds of the same artifact, runs of
    one session file). `timeout` None: wait as long as the holder runs. `on_wait` is called
    once if the lock is still held by another after `notice_after` seconds."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    noticed = on_wait is None
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if _stale(path):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                continue
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:g}s for the lock {path}") from None
            if not noticed and time.monotonic() - started >= notice_after:
                noticed = True
                assert on_wait is not None
                on_wait()
            time.sleep(0.1)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _stale(path: Path) -> bool:
    """A lock left by a process that is gone, or older than an hour."""
    try:
        age = time.time() - path.stat().st_mtime
        pid = int(path.read_text() or "0")
    except (OSError, ValueError):
        return False
    if age > 3600:
        return True
    if pid <= 0 or sys.platform == "win32":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
