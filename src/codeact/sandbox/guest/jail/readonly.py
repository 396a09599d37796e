"""The same error as on every backend for a write to a read-only mount.

The kernel is the wall: each read-only mount is bound ``MS_RDONLY`` (`rootfs.bind`), so no
write, metadata change or chattr flag reaches the host's file, whatever the program does
(ctypes included), and Landlock refuses on top. The kernel says ``EROFS`` though, which Python
raises as a bare ``OSError``, while a program on every backend gets ``PermissionError`` for a
read-only mount. An audit hook asks first: a write under a read-only mount raises
``PermissionError`` before the call is made. It is a courtesy, not a wall: a call the hook
does not see (one made through ctypes, or relative to a directory descriptor) still meets the
read-only mount.

This module runs inside the jail's child: standard library only.
"""

from __future__ import annotations

import errno
import os
import posixpath
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["install"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# audit event: the positions of the paths it would change
_CHANGES = {
    "os.mkdir": (0,),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.rename": (0, 1),
    "os.link": (1,),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
}


def _path(value: Any) -> str | None:
    if isinstance(value, int) or value is None:
        return None  # a descriptor: already opened, the kernel decides
    try:
        raw = os.fsdecode(os.fspath(value))
    except TypeError:
        return None
    if not raw.startswith("/"):
        try:
            raw = posixpath.join(os.getcwd(), raw)
        except OSError:
            return None
    return posixpath.normpath(raw)


def install(mounts: Sequence[tuple[str, bool]]) -> None:
    """Raise PermissionError for writes under the read-only ones of `mounts` (sandbox path,
    writable); a path belongs to the deepest mount that holds it."""
    roots = sorted(((posixpath.normpath(p), w) for p, w in mounts), key=lambda m: -len(m[0]))
    if all(writable for _, writable in roots):
        return

    def under(value: Any) -> str | None:
        path = _path(value)
        if path is None:
            return None
        for root, writable in roots:
            if path == root or path.startswith(root + "/"):
                return None if writable else path
        return None

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            if not (flags & _WRITE_FLAGS or any(c in mode for c in "wax+")):
                return
            targets: tuple[int, ...] = (0,)
        else:
            found = _CHANGES.get(event)
            if found is None:
                return
            targets = found
        for index in targets:
            if index < len(args):
                path = under(args[index])
                if path is not None:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    sys.addaudithook(hook)
