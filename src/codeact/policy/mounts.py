"""`Mount`: a host directory the sandbox may see, and where, read-only unless said otherwise.

Nothing of the host is visible to a program by default. A mount is the grant of one directory:

>>> Mount("/srv/data")                                  # doctest: +SKIP
Mount('/srv/data', '/srv/data', mode='ro')

`CodeAct(file_mounts=[...])` also takes the shorthands ``"/host/dir"`` (same path inside,
read-only) and ``("/host/dir", "/guest/dir")`` (read-only). Everything is checked when it is
configured, so a bad mount fails at start-up with a message that says how to fix it, never
halfway through an agent's run.
"""

from __future__ import annotations

import errno
import os
import posixpath
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias, Union

from .._paths import open_folder_nofollow
from ..errors import ConfigurationError
from .packages import PACKAGES_PATH

__all__ = [
    "INPUT_PATH",
    "OUTPUT_PATH",
    "Mount",
    "MountInput",
    "MountMode",
    "check_mounts",
    "folder_path",
    "missing_mount",
    "open_granted_folder",
    "to_mount",
    "workspace_mount",
]

MountMode: TypeAlias = Literal["ro", "rw"]
#: What `file_mounts=[...]` accepts: a Mount, a host path, or a (host, guest) pair.
MountInput: TypeAlias = Union["Mount", str, "os.PathLike[str]", tuple[object, object]]

#: Where every execution finds an empty directory for files it hands back.
OUTPUT_PATH = "/output"
#: Where `workspace_root` appears inside the sandbox (read-only).
INPUT_PATH = "/input"


@dataclass(frozen=True, init=False)
class Mount:
    """The host directory `host`, visible inside the sandbox at `guest`.

    Args:
        host: An existing host directory (relative paths are resolved now, against the
            current directory; symlinks are resolved too).
        guest: Absolute path inside the sandbox (default: the same path as `host`).
        mode: ``"ro"`` (default): the program can list and read; ``"rw"``: it can also
            create, change and delete files there (and only there).

    Inside the sandbox nothing outside the mount is reachable through it: not with ``..``,
    not through a symlink that points out of the directory.
    """

    host: str
    guest: str
    mode: MountMode

    def __init__(
        self, host: str | os.PathLike[str], guest: str | None = None, *, mode: MountMode = "ro"
    ) -> None:
        resolved = _check_host(host)
        object.__setattr__(self, "host", resolved)
        if guest is None:  # "same path inside": the path as written (made absolute), not resolved
            guest = posixpath.normpath(Path(os.fspath(host)).expanduser().absolute().as_posix())
        object.__setattr__(self, "guest", _check_guest(guest))
        if mode not in ("ro", "rw"):
            raise ConfigurationError(
                f"mount {self.host}: mode must be 'ro' (read-only) or 'rw' (read-write), "
                f"got {mode!r}"
            )
        object.__setattr__(self, "mode", mode)
        if mode == "rw" and not os.access(resolved, os.W_OK | os.X_OK):
            raise ConfigurationError(
                f"mount {resolved}: mode='rw' but this process cannot write to that directory; "
                "fix its permissions or mount it read-only"
            )

    @property
    def writable(self) -> bool:
        return self.mode == "rw"

    def describe(self) -> str:
        """How the model is told about it: ``/data (read-only)``."""
        return f"{self.guest} ({'read-write' if self.writable else 'read-only'})"

    def __repr__(self) -> str:
        return f"Mount({self.host!r}, {self.guest!r}, mode={self.mode!r})"


def to_mount(item: object) -> Mount:
    """A `Mount` from any accepted shorthand (see `MountInput`)."""
    if isinstance(item, Mount):
        return item
    if isinstance(item, (str, os.PathLike)):
        return Mount(item)
    if isinstance(item, tuple) and len(item) == 2:
        host, guest = item
        if isinstance(host, (str, os.PathLike)) and isinstance(guest, str):
            return Mount(host, guest)
    raise ConfigurationError(
        f"file_mounts: cannot use {item!r} as a mount; give a host directory path, "
        "a (host_dir, sandbox_path) pair, or Mount(host_dir, sandbox_path, mode='rw')"
    )


def workspace_mount(root: str | os.PathLike[str]) -> Mount:
    """`workspace_root`: the directory, read-only at /input."""
    try:
        return Mount(root, INPUT_PATH)
    except ConfigurationError as exc:
        raise ConfigurationError(f"workspace_root: {exc}") from None


def check_mounts(
    mounts: Iterable[Mount], *, workspace: Mount | None = None, packages: str | None = None
) -> tuple[Mount, ...]:
    """Check a whole set of mounts together; return it with the workspace (if any) first.

    Refused: two mounts at the same or nested sandbox paths, a mount at /output (every
    execution's own output directory), at /packages (where the Wasm guest finds granted
    packages; refused on every backend alike, granted or not), at `packages` (the granted
    package tree's sandbox path, where it is elsewhere: the jail's, at its host path) or at
    /input when there is a workspace, and a read-only mount of a directory that a read-write
    mount also exposes (read-only would not hold).
    """
    result: list[Mount] = [workspace] if workspace is not None else []
    reserved = {
        OUTPUT_PATH: "every execution's output directory",
        PACKAGES_PATH: "the granted packages (CodeAct(packages=...))",
    }
    if packages is not None and packages != PACKAGES_PATH:
        reserved[packages] = "the granted packages (CodeAct(packages=...))"
    if workspace is not None:
        reserved[INPUT_PATH] = "the workspace (workspace_root)"
    for mount in mounts:
        for path, what in reserved.items():
            if _nested(mount.guest, path) and not (path == packages and mount.host == mount.guest):
                raise ConfigurationError(
                    f"mount {mount.host}: the sandbox path {mount.guest} collides with {path}, "
                    f"which is reserved for {what}; choose another sandbox path, "
                    f"e.g. Mount({mount.host!r}, '/data')"
                )
        for other in result:
            if _nested(mount.guest, other.guest):
                raise ConfigurationError(
                    f"mounts {other.host} and {mount.host} overlap inside the sandbox "
                    f"({other.guest} and {mount.guest}); give each its own sandbox path"
                )
        result.append(mount)
    for ro in result:
        for rw in result:
            if ro.mode == "ro" and rw.mode == "rw" and _inside(ro.host, rw.host):
                raise ConfigurationError(
                    f"mount {ro.host} is read-only but it is inside the read-write mount "
                    f"{rw.host} ({rw.guest}), so the program could change it anyway; "
                    "mount it read-write too, or do not mount the enclosing directory rw"
                )
    return tuple(result)


def missing_mount(mounts: Iterable[Mount]) -> str | None:
    """Why a run cannot have `mounts` now, in one line: a granted host folder that is no
    longer a folder (removed, renamed, or replaced by a file since it was granted), or whose
    path now leads through a symbolic link; None if every one is there."""
    for mount in mounts:
        try:
            os.close(open_granted_folder(mount.host))
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return (
                    f"the host folder {mount.host} mounted at {mount.guest} is not reached "
                    "the way it was granted: its path now leads through a symbolic link (a "
                    "program with a read-write mount above it may have put one there); "
                    "granted folders are never reached through links, so remove the link, "
                    "or grant the folder it points to by its own path"
                )
            return (
                f"the host folder {mount.host} mounted at {mount.guest} is gone (removed or "
                "renamed after it was granted): restore it there, or grant its new path"
            )
    return None


def open_granted_folder(host: str) -> int:
    """A descriptor of the folder at `host` (an absolute path, as `Mount` keeps it), opened
    one component at a time without following any symbolic link: what a sandbox is given
    (never the path, which a program with a read-write mount above the folder could turn
    into a link to anywhere between this check and its use). OSError with errno ELOOP when
    a component is a link, ENOTDIR when one is not a folder, ENOENT when one is gone. The
    caller closes it."""
    return open_folder_nofollow(host)


def folder_path(fd: int) -> str:
    """A path that opens exactly the folder `fd` refers to, whatever happens to its own path
    meanwhile (Linux's /proc/self/fd/N), or "" where the system has none."""
    return f"/proc/self/fd/{fd}" if _PROC_FD else ""


_PROC_FD = sys.platform.startswith("linux") and Path("/proc/self/fd").is_dir()


def _check_host(host: object) -> str:
    if not isinstance(host, (str, os.PathLike)) or not os.fspath(host):
        raise ConfigurationError(f"a mount's host path must be a non-empty path, got {host!r}")
    path = Path(os.fspath(host)).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ConfigurationError(
            f"mount {os.fspath(host)}: no such directory on the host; create it or fix the path"
        ) from None
    if not resolved.is_dir():
        raise ConfigurationError(
            f"mount {os.fspath(host)}: not a directory; mounts share whole directories, "
            "so put the file in a directory and mount that"
        )
    return str(resolved)


def _check_guest(guest: object) -> str:
    if not isinstance(guest, str) or not guest:
        raise ConfigurationError(f"a mount's sandbox path must be a non-empty str, got {guest!r}")
    if "\x00" in guest or "\\" in guest:
        raise ConfigurationError(
            f"sandbox path {guest!r}: use a POSIX path such as /data (no backslashes or NUL); "
            "on Windows give the sandbox path explicitly: (host_dir, '/data')"
        )
    if not guest.startswith("/"):
        raise ConfigurationError(
            f"sandbox path {guest!r} must be absolute, e.g. {'/' + guest.lstrip('./')!r}"
        )
    parts = [p for p in guest.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ConfigurationError(
            f"sandbox path {guest!r} must not contain '.' or '..'; write it out, "
            f"e.g. {posixpath.normpath(guest)!r}"
        )
    if not parts:
        raise ConfigurationError(
            "a mount cannot cover the sandbox's root '/'; mount it at a directory such as /data"
        )
    return "/" + "/".join(parts)


def _nested(a: str, b: str) -> bool:
    """True when sandbox paths `a` and `b` are the same or one contains the other."""
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)
