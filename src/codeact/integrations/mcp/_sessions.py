"""One `codeact.Session` per MCP client, for ``build_mcp_server(..., sessions=True)``.

Who "the client" is depends on the transport. Over stdio (and in memory) a server has exactly
one peer: every request is that client's. Over streamable HTTP a client of protocol 2025-11-25
or older holds an MCP session (``Mcp-Session-Id``), and that id is the key. A request of the
stateless 2026-07-28 HTTP protocol carries no client identity at all: it runs without a
session (nothing carries over) and its result says so. The most recent `KEPT_CLIENTS` sessions
are kept; older ones are forgotten.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ...runtime import CodeAct, Session

__all__ = ["KEPT_CLIENTS", "NO_SESSION_NOTE", "RESTART_DESCRIPTION", "ClientSessions"]

RESTART_DESCRIPTION = (
    "true to forget every variable, function and import of earlier calls before this program "
    "runs (start clean)"
)

NO_SESSION_NOTE = (
    "[session] This request came without an MCP session (stateless HTTP), so nothing of it is "
    "kept for the next call: do the whole job in one program."
)

#: Client sessions a server keeps (the least recently used are forgotten first).
KEPT_CLIENTS = 256


class ClientSessions:
    """The session of each MCP client the server has seen recently."""

    def __init__(self, codeact: CodeAct, *, kept: int = KEPT_CLIENTS) -> None:
        self.codeact = codeact
        self.kept = kept
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    async def session_for(self, ctx: Any, *, restart: bool = False) -> Session | None:
        """The session of the client behind the request `ctx` (restarted if asked), or None
        when the request does not say which client it comes from."""
        client = client_key(ctx)
        if client is None:
            return None
        session = self._sessions.pop(client, None)
        if session is None:
            session = self.codeact.session()
        elif restart:
            await session.restart()
        self._sessions[client] = session
        while len(self._sessions) > self.kept:
            self._sessions.popitem(last=False)
        return session

    def __len__(self) -> int:
        return len(self._sessions)


def client_key(ctx: Any) -> str | None:
    """Which client sent the request `ctx`: its MCP session id over HTTP, the one peer over
    stdio, None for a stateless HTTP request."""
    # The SDK makes a ServerSession per request; the connection carries the transport's id.
    connection = getattr(getattr(ctx, "session", None), "_connection", None)
    session_id = getattr(connection, "session_id", None)
    if isinstance(session_id, str) and session_id:
        return f"http:{session_id}"
    if getattr(ctx, "headers", None) is None:  # stdio or in memory: a single peer
        return "stdio"
    return None
