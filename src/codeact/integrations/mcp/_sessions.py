"""One `codeact.Session` per MCP client, for ``build_mcp_server(..., sessions=True)``.

Who "the client" is depends on the transport. Over stdio (and in memory) a server has exactly
one peer: every request is that client's. Over streamable HTTP a client of protocol 2025-11-25
or older holds an MCP session (``Mcp-Session-Id``), and that id is the key. A request of the
stateless 2026-07-28 HTTP protocol carries no client identity at all: it runs without a
session (nothing carries over) and its result says so.

What the server holds for its clients is bounded, since any client can open sessions: the
states of at most `KEPT_CLIENTS` clients and `KEPT_STATE_BYTES` in all, the least recently used
forgotten first. A client whose state was forgotten is told so by its next call's result (it
is never silently empty), and a client that ends its MCP session (HTTP ``DELETE``) frees its
state at once.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from ...runtime import CodeAct, ExecutionResult, Session

__all__ = [
    "KEPT_CLIENTS",
    "KEPT_STATE_BYTES",
    "NO_SESSION_NOTE",
    "RESTART_DESCRIPTION",
    "ClientSessions",
]

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
#: Bytes of state a server keeps for all its clients together (each one's at most
#: `Limits.state_bytes`); the least recently used are forgotten first.
KEPT_STATE_BYTES = 256 << 20


class ClientSessions:
    """The session of each MCP client the server has seen recently."""

    def __init__(
        self, codeact: CodeAct, *, kept: int = KEPT_CLIENTS, kept_bytes: int = KEPT_STATE_BYTES
    ) -> None:
        self.codeact = codeact
        self.kept = kept
        self.kept_bytes = kept_bytes
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    async def session_for(
        self, ctx: Any, *, restart: bool = False
    ) -> tuple[Session | None, str | None]:
        """The session of the client behind the request `ctx` (restarted if asked), or None
        when the request does not say which client it comes from; and a note for the result
        when this client's earlier state was forgotten to make room for others'."""
        client = client_key(ctx)
        if client is None:
            return None, NO_SESSION_NOTE
        note = None
        session = self._sessions.pop(client, None)
        if session is None:
            if _had_a_session(ctx) and not restart:
                note = self.forgotten_note()
            session = self.codeact.session()
            if client.startswith("http:"):  # a stdio peer's end is the server's
                _on_close(ctx, lambda: self.end(client))
        elif restart:
            await session.restart()
        self._sessions[client] = session
        self.trim()
        return session, note

    def trim(self) -> None:
        """Forget the least recently used states until what is kept is within the bounds
        (the most recent client's is always kept: `Limits.state_bytes` bounds it)."""
        while len(self._sessions) > 1 and (
            len(self._sessions) > self.kept or self.held() > self.kept_bytes
        ):
            self._sessions.popitem(last=False)

    def trimming_after(
        self, execute: Callable[..., Awaitable[ExecutionResult]]
    ) -> Callable[..., Awaitable[ExecutionResult]]:
        """`execute`, keeping the states within the bounds once it has run (the state it
        leaves may be larger than the one it started from)."""

        async def run(*args: Any, **kwargs: Any) -> ExecutionResult:
            try:
                return await execute(*args, **kwargs)
            finally:
                self.trim()

        return run

    def end(self, client: str) -> None:
        """The client ended its MCP session: nothing of it is kept."""
        self._sessions.pop(client, None)

    def held(self) -> int:
        """Bytes of state kept for all clients together."""
        return sum(session.size for session in self._sessions.values())

    def forgotten_note(self) -> str:
        return (
            "[session] The variables, functions and imports of this client's earlier calls "
            f"were forgotten before this call: this server keeps the state of at most "
            f"{self.kept} clients and {self.kept_bytes >> 20} MiB in all, the least recently "
            "used forgotten first. Define again what this program needs."
        )

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


#: The mark a client's connection carries once the server made it a session (the SDK keeps
#: a connection's `state` as long as the connection: nothing to bound on our side).
_HAD_SESSION = "codeact.had_session"


def _had_a_session(ctx: Any) -> bool:
    """Whether the client behind `ctx` had a session before (and so lost it), marking it."""
    connection = getattr(getattr(ctx, "session", None), "_connection", None)
    state = getattr(connection, "state", None)
    if not isinstance(state, dict):
        return False
    had = bool(state.get(_HAD_SESSION))
    state[_HAD_SESSION] = True
    return had


def _on_close(ctx: Any, forget: Any) -> None:
    """Run `forget` when the client's MCP session over HTTP closes (its ``DELETE``, the
    session's idle timeout): the SDK unwinds the connection's `exit_stack` then. (Over stdio
    the stack is unwound after each request.)"""
    connection = getattr(getattr(ctx, "session", None), "_connection", None)
    stack = getattr(connection, "exit_stack", None)
    if isinstance(stack, contextlib.AsyncExitStack):
        stack.callback(forget)
