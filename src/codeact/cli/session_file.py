"""`codeact exec --session FILE`: a session's state kept in a file between runs of the CLI.

The state is sealed with a key (see `runtime/session_state.py`) that this user's CLI keeps in
its cache directory, readable by this user only: a session file written by this user's
`codeact exec` restores in the next one, and a file changed by anyone else, or written on
another machine, is refused. Deleting the cache directory therefore retires the session files
(they are refused with a message that says so; delete them to start over).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import click

from .._paths import atomic_write, cache_dir
from ..errors import SessionStateError, UserError
from ..runtime import ExecutionResult

__all__ = ["cli_key", "read_state", "refused_state", "report_session", "write_state"]

_KEY_BYTES = 32


def cli_key() -> bytes:
    """The CLI's session key: made once (mode 0600) in the user's cache, then reused."""
    path = cache_dir("sessions") / "key"
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    if len(key) == _KEY_BYTES:
        return key
    fresh = secrets.token_bytes(_KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it just now (or it is damaged)
        key = path.read_bytes()
        if len(key) != _KEY_BYTES:
            raise UserError(
                f"the session key {path} is damaged; delete it (saved sessions then restart)"
            ) from None
        return key
    with os.fdopen(fd, "wb") as f:
        f.write(fresh)
    return fresh


_SEALING_BYTES = 2**20


def read_state(path: Path, limit: int) -> bytes | None:
    """The state saved in `path`, or None when the file does not exist yet (a new session).
    Its directory is checked first: a state that could not be saved after the program ran
    would be lost, so that is a usage error before anything runs. A file larger than
    `limit` (the session's `Limits.state_bytes`) and the 1 MiB its sealing may add (the names'
    header, the tag) is refused unread: no saved state is that large, and /dev/zero would
    fill memory."""
    _check_can_save(path)
    most = limit + _SEALING_BYTES
    try:
        with path.open("rb") as f:
            data = f.read(most + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"cannot read the session file {path}: {exc}") from None
    if len(data) > most:
        raise UserError(
            f"--session {path}: larger than a session's state may be ({limit // 2**20} MiB); "
            "it is not a session file of codeact: choose another FILE"
        )
    return data


def _check_can_save(path: Path) -> None:
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise UserError(
            f"--session {path}: its directory {parent} {what}; create it or choose another FILE"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(
            f"--session {path}: cannot write in {parent}; choose a FILE in a directory you can "
            "write to"
        )


def refused_state(path: Path, exc: SessionStateError) -> UserError:
    """A session file the session refused, in the command line's words (the library's own
    message names Python arguments such as ``key=...``)."""
    message = str(exc)
    backend = re.search(r"saved on the '([\w-]+)' backend", message)
    if backend is not None:
        return UserError(
            f"--session {path} was saved with --backend {backend.group(1)}; run with "
            f"--backend {backend.group(1)}, or give another FILE to start a new session"
        )
    if message.startswith("these bytes are not"):  # maybe a file of the user's: keep it
        return UserError(
            f"--session {path}: not a session file made by codeact exec --session; give a new "
            "FILE name to start a session"
        )
    reason = message.split(";")[0].split(" (")[0].replace("the session state", "it")
    return UserError(
        f"--session {path}: {reason}; delete it to start a new session, or give another FILE"
    )


def write_state(path: Path, state: bytes) -> None:
    try:
        atomic_write(path, state)
    except OSError as exc:
        raise UserError(f"cannot write the session file {path}: {exc}") from None


def report_session(result: ExecutionResult, path: Path) -> None:
    """Tell the person at the terminal what the run did to the session (on stderr)."""
    session = result.session
    if session is None:
        return
    for name, why in session.dropped.items():
        click.echo(f"codeact: session: not kept: {name}: {why}", err=True)
    if session.note:
        click.echo(f"codeact: session: {session.note}", err=True)
    elif session.kept:
        names = ", ".join(session.names) or "nothing"
        click.echo(f"codeact: session {path} holds: {names}", err=True)
