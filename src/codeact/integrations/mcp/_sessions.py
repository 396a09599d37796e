"""One `codeact.Session` per MCP client, for ``build_mcp_server(..., sessions=True)``.

An MCP client's programs share their variables when the client keeps a connection to the
server (stdio, or streamable HTTP with an ``Mcp-Session-Id``): the session is keyed by that
connection and forgotten with it. Over the stateless HTTP of protocol 2026-07-28 every request
is a connection of its own, so nothing carries over there.
"""

from __future__ import annotations

import weakref
from typing import Any

from ...runtime import CodeAct, Session

__all__ = ["RESTART_DESCRIPTION", "ClientSessions"]

RESTART_DESCRIPTION = (
    "true to forget every variable, function and import of earlier calls before this program "
    "runs (start clean)"
)


class ClientSessions:
    """The session of each connected MCP client."""

    def __init__(self, codeact: CodeAct) -> None:
        self.codeact = codeact
        self._sessions: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()

    async def session_for(self, ctx: Any, *, restart: bool = False) -> Session:
        """The session of the client behind the request `ctx` (restarted if asked)."""
        client = _connection_of(ctx)
        session = self._sessions.get(client) if client is not None else None
        if session is None:
            session = self.codeact.session()
            if client is not None:
                self._sessions[client] = session
        elif restart:
            await session.restart()
        return session

    def __len__(self) -> int:
        return len(self._sessions)


def _connection_of(ctx: Any) -> Any:
    """The object that lives as long as the client's connection (None when there is none)."""
    session = getattr(ctx, "session", None)
    # The SDK makes a ServerSession per request; the per-client object is its connection.
    connection = getattr(session, "_connection", None)
    if connection is None:
        return None
    try:
        weakref.ref(connection)
    except TypeError:
        return None
    return connection
