"""A private file tree for one child: a mount namespace whose root holds only what the program
may see. Needs CAP_SYS_ADMIN in a user namespace: root has it; other users get it from an
unprivileged user namespace where the kernel allows one (recent Ubuntu releases do not).

The root is an empty tmpfs with, bound read-only at their own paths, the interpreter's folders
(with the site-packages inside the standard library hidden under an empty tmpfs) and the
granted packages; then, per run, ``/output`` (read-write) and the mounts at their sandbox paths.
The child then chroots into it. Landlock still applies on top, to the same files.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterable, Sequence

__all__ = ["Bind", "available", "bind", "enter", "open_exact", "prepare_root"]

_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV = 1, 2, 4
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)

#: (host path, path inside, writable)
Bind = tuple[str, str, bool]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _unshare() -> None:
    if os.geteuid() == 0:
        _check(_libc.unshare(_CLONE_NEWNS), "unshare")
        return
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def available() -> str:
    """ "" when this process may make a private mount namespace, else why not (probed in a
    throwaway child, so the caller is untouched)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            _unshare()
            _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
            os.write(write, b"ok")
        except OSError as exc:
            os.write(write, str(exc).encode()[:500])
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1000).decode(errors="replace")
    os.close(read)
    os.waitpid(pid, 0)
    return "" if answer == "ok" else answer or "the probe died"


def _skeleton(root: str, inside: str, *, is_dir: bool) -> str:
    target = os.path.join(root, inside.lstrip("/"))
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    return target


def bind(
    root: str, binds: Iterable[Bind], *, read_only_mounts: bool = True, exact: bool = False
) -> None:
    """Bind each host path at its place inside `root`. Unless writable, the bind is made
    read-only in the kernel (``MS_RDONLY`` remount) when `read_only_mounts`: then no write,
    metadata change or chattr flag reaches the host file whatever the process calls, which
    Landlock alone (it does not cover attributes) cannot promise.

    `exact` (granted folders): each is opened one component at a time without following any
    link and bound from that descriptor, so the folder bound is the folder at that path,
    never one a link put there since leads to (a program with a read-write mount above it
    could have made one); a path through a link fails with ELOOP."""
    for host, inside, writable in binds:
        fd = open_exact(host) if exact else -1
        try:
            source = f"/proc/self/fd/{fd}" if fd >= 0 else host
            target = _skeleton(root, inside, is_dir=fd >= 0 or os.path.isdir(host))
            _mount(source, target, None, _MS_BIND | _MS_REC, None)
        finally:
            if fd >= 0:
                os.close(fd)
        read_only = read_only_mounts and not writable
        flags = _MS_REMOUNT | _MS_BIND | _MS_NOSUID | _MS_NODEV | (_MS_RDONLY if read_only else 0)
        _mount(None, target, None, flags, None)


_EXACT_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_exact(host: str) -> int:
    """An O_PATH descriptor of the folder at absolute `host`, opened one component at a
    time, no link followed (the host's `policy.mounts.open_granted_folder`, which guest code
    cannot import)."""
    fd = os.open("/", _EXACT_FLAGS)
    try:
        for part in host.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                raise OSError(errno.ENOENT, "a granted folder's path has no '..'", host)
            try:
                child = os.open(part, _EXACT_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise OSError(errno.ELOOP, "a link or a file on the path", host) from None
                raise
            os.close(fd)
            fd = child
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise OSError(errno.ELOOP, "a symbolic link on the path", host)
        return fd
    except BaseException:
        os.close(fd)
        raise


def prepare_root(
    root: str, *, stdlib: Sequence[str], hidden: Sequence[str], packages: Sequence[str]
) -> None:
    """Enter a new mount namespace and build the run-independent part of the tree at `root`
    (an empty host directory, covered by a tmpfs only inside the namespace): the standard
    library with the `hidden` folders inside it covered, then the `packages`."""
    _unshare()
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)  # nothing propagates to the host
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
    bind(root, [(path, path, False) for path in stdlib])
    for path in hidden:  # e.g. the site-packages folder inside the standard library
        target = os.path.join(root, path.lstrip("/"))
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=0755")
    bind(root, [(path, path, False) for path in packages])


def enter(root: str) -> None:
    """Make the tree read-only at its top and make it the process's whole file system."""
    _mount(None, root, None, _MS_REMOUNT | _MS_NOSUID | _MS_NODEV | _MS_RDONLY, "size=1m")
    os.chroot(root)
    os.chdir("/")
