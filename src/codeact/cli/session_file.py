"""`codeact exec --session FILE`: a session's state kept in a file between runs of the CLI.

The state is sealed with a key (see `runtime/session_state.py`) that this user's CLI keeps in
its cache directory, readable by this user only: a session file written by this user's
`codeact exec` restores in the next one, and a file changed by anyone else, or written on
another machine, is refused. Deleting the cache directory therefore retires the session files
(they are refused with a message that says so; delete them to start over).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from .._paths import atomic_write, cache_dir
from ..errors import UserError
from ..runtime import ExecutionResult

__all__ = ["cli_key", "read_state", "report_session", "write_state"]

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


def read_state(path: Path) -> bytes | None:
    """The state saved in `path`, or None when the file does not exist yet (a new session)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"cannot read the session file {path}: {exc}") from None


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
