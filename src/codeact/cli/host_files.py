"""The files the command line writes on the host while programs run, or after: --session,
--trace, --audit, --output-dir.

A program with a read-write mount can put a symbolic link anywhere in it, and links it makes
can point anywhere on the host (the sandbox never follows them, but the host would). So each
such file's path is resolved once, before any program runs, without following a link that
lies inside a read-write mount (those are the program's, not the user's: refused in one line,
`pin`); and the file is later opened without following any link at all (`_paths.open_nofollow`,
`atomic_write(..., follow_links=False)`, `save_files`). Links elsewhere are the user's own and
are followed, once.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .._paths import UntrustedLink, open_nofollow, resolve_among
from ..errors import UserError
from ..policy.mounts import Mount

__all__ = ["cannot_write", "open_for_append", "pin"]


def pin(path: Path, option: str, mounts: Sequence[Mount], *, inside_ok: bool = True) -> Path:
    """`path` resolved now, refusing a link inside one of the read-write `mounts` (and, unless
    `inside_ok`, a path inside one at all: an audit log the program could change or remove)."""
    writable = [m for m in mounts if m.writable]
    try:
        resolved = resolve_among(path, [m.host for m in writable])
    except UntrustedLink as exc:
        raise UserError(
            f"{option} {path}: leads through the link {exc.link} inside the read-write mount "
            f"{exc.folder}, which a program may have made; remove the link, or give a path "
            "that leads through no link in a folder granted read-write"
        ) from None
    except OSError as exc:
        raise UserError(f"{option} {path}: {exc.strerror or exc}") from None
    for mount in writable if not inside_ok else ():
        if resolved == Path(mount.host) or Path(mount.host) in resolved.parents:
            raise UserError(
                f"{option} {path}: inside the read-write mount {mount.host} ({mount.guest}), "
                "where the program could change or remove it; keep it outside the folders "
                "granted read-write"
            )
    return resolved


def open_for_append(path: Path) -> IO[str]:
    """`path` (from `pin`) opened to append text, no link followed on the way."""
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    return os.fdopen(fd, "a", encoding="utf-8")


def cannot_write(option: str, path: Path, exc: OSError) -> str:
    """One line for a file the command could not write after a program ran."""
    if exc.errno == errno.ELOOP:
        why = (
            "a symbolic link is now on its path (a program may have made it in a read-write "
            "mount); nothing was written through it"
        )
    else:
        why = exc.strerror or str(exc)
    return f"cannot write {option} {path}: {why}"
