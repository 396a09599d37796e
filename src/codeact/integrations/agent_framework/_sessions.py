"""Sessions for the Agent Framework provider (``sessions=True``; off by default, as the reference
is stateless): the programs of one framework `AgentSession` share their variables.

The state lives where the framework keeps a provider's state: the dict it hands `before_run`
for this provider, inside the `AgentSession` (so it goes wherever the framework stores or
serializes the session). It is kept there as base64 text of `codeact.Session.state`: sealed
bytes that only a sandbox reads. A state the host refuses (sealed with another key, e.g. a
session restored in another process without ``session_key=``; or saved by another codeact)
is not restored: the call starts empty and its result says why.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

from ...errors import SessionStateError
from ...runtime import CodeAct, ExecutionResult, Session

__all__ = ["STATE_KEY", "keep_state", "open_session"]

#: The key of the state in the provider's dict of the framework's session.
STATE_KEY = "codeact_session_state"


def open_session(
    codeact: CodeAct, store: dict[str, Any], key: bytes | None
) -> tuple[Session, str | None]:
    """The session saved in `store` (or a new one), and why a saved one was refused."""
    saved = store.get(STATE_KEY)
    if not isinstance(saved, str) or not saved:
        return codeact.session(key=key), None
    try:
        return codeact.session(state=base64.b64decode(saved, validate=True), key=key), None
    except (SessionStateError, ValueError, binascii.Error) as exc:
        return codeact.session(key=key), str(exc)


def keep_state(
    store: dict[str, Any], session: Session, result: ExecutionResult, refused: str | None
) -> None:
    """Save the session's state in `store` if the call kept it; note a refused earlier state."""
    report = result.session
    if report is None:
        return
    if report.kept or refused is not None:
        store[STATE_KEY] = base64.b64encode(session.state).decode("ascii")
    if refused is not None:
        note = f"The saved variables of earlier calls could not be restored ({refused})."
        if report.note:
            note += " " + report.note
        result.session = dataclasses.replace(report, note=note)
