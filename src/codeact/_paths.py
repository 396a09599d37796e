"""Where codeact keeps what it builds or downloads once per machine (the user cache)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["atomic_write", "cache_dir", "file_lock"]


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


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one.
    A symbolic link is followed: its target gets the data, and the link stays a link."""
    path = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
