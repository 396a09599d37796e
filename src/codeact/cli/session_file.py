"""`codeact exec --session FILE`: a session's state kept in a file between runs of the CLI.

The state is sealed with a key (see `runtime/session_state.py`) that this user's CLI keeps in
its cache directory, readable by this user only: a session file written by this user's
`codeact exec` restores in the next one, and a file changed by anyone else, or written on
another machine, is refused. Deleting the cache directory therefore retires the session files
(they are refused with a message that says so; delete them to start over).

A run holds a lock on FILE (``.FILE.lock`` beside it) from reading the state to writing it
back: a second run on the same FILE waits for the first (and says so), so neither overwrites
what the other kept. A FILE that is a symbolic link is read and written through to its target.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from .._paths import atomic_write, cache_dir, file_lock, open_nofollow
from ..errors import SessionStateError, UserError
from ..policy.mounts import Mount
from ..runtime import ExecutionResult
from ..runtime.session_state import SEALING_BYTES
from .host_files import pin

__all__ = [
    "cli_key",
    "hold_session_file",
    "read_state",
    "refused_state",
    "report_session",
    "write_state",
]

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


@contextlib.contextmanager
def hold_session_file(path: Path, mounts: Sequence[Mount] = ()) -> Iterator[Path]:
    """Hold --session FILE for one run, from reading its state to writing it back: the path
    to read and write (a symbolic link's target, resolved once; never a link inside one of
    the read-write `mounts`, which a program may have made: `host_files.pin`), locked
    against other runs of codeact on it. Its directory is checked first: a state that could
    not be saved after the program ran would be lost, so that is a usage error before
    anything runs."""
    if str(path) == "-":
        raise UserError(
            "--session -: a session is kept in a file, not on stdin or stdout; give a FILE "
            "path (it is made on first use)"
        )
    target = pin(path, "--session", mounts)
    _check_can_save(path, target.parent)

    def waiting() -> None:
        click.echo(f"codeact: waiting for another run with --session {path} to finish...", err=True)

    with file_lock(target.with_name(f".{target.name}.lock"), timeout=None, on_wait=waiting):
        yield target


def read_state(path: Path, limit: int) -> bytes | None:
    """The state saved in `path`, or None when the file does not exist yet or is empty (a new
    session: `f=$(mktemp)` makes the file before the first run).
    A file larger than `limit` (the session's `Limits.state_bytes`) and the most its seal
    adds (`SEALING_BYTES`: the names' header, the tag) is refused unread: no state this CLI
    writes is that large, and /dev/zero would fill memory."""
    most = limit + SEALING_BYTES
    try:
        with os.fdopen(open_nofollow(path, os.O_RDONLY), "rb") as f:  # no link followed now
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
    return data or None


def _check_can_save(path: Path, parent: Path) -> None:
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


def write_state(path: Path, state: bytes, shown: Path) -> str | None:
    """Write the state; what went wrong (one line, naming `shown`, the path as given) if it
    could not be written."""
    try:
        atomic_write(path, state, follow_links=False)  # `path` was resolved before the run
    except OSError as exc:
        why = exc.strerror or str(exc)
        return (
            f"cannot write the session file {shown} ({why}): this run's variables were not "
            "kept; its output and files are above"
        )
    return None


#: Names shown on the `holds:` line; the others are counted.
_NAMES_SHOWN = 20


def report_session(result: ExecutionResult, path: Path) -> bool:
    """Tell the person at the terminal what the run did to the session (on stderr); whether
    the session kept this run's state (False: a run that succeeded exits 1)."""
    session = result.session
    if session is None:
        return True
    for name, why in session.dropped.items():
        click.echo(f"codeact: session: not kept: {name}: {why}", err=True)
    if session.note:
        # The library's note names Limits.state_bytes; here the limit is the CLI's.
        note = re.sub(
            r"\(Limits\.state_bytes = ([^)]*)\)",
            r"(\1, the most a --session FILE holds)",
            session.note,
        )
        click.echo(f"codeact: session: {note}", err=True)
    elif session.kept:
        names = ", ".join(session.names[:_NAMES_SHOWN]) or "nothing"
        more = max(0, len(session.names) - _NAMES_SHOWN) + session.names_left_out
        names += f" ... and {more} more" if more else ""
        click.echo(f"codeact: session {path} holds: {names}", err=True)
    return session.kept
