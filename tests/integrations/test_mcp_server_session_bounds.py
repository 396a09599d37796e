"""What `serve-mcp --sessions` keeps for its clients is bounded (any client can open
sessions), a client whose state was forgotten is told so, and a client that ends its MCP
session frees its state. Before, one client could push every other's state out silently
(256 sessions) and make the server hold 256 x 16 MiB."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install -e '.[mcp]'")

import mcp

from codeact import CodeAct, Limits
from codeact.integrations.mcp._sessions import ClientSessions

from .conftest import mcp_text, serving_mcp_over_http

pytestmark = pytest.mark.usefixtures("wasm_ready")

FORGOTTEN = "were forgotten before this call"


def _request(session_id: str) -> SimpleNamespace:
    """What `ClientSessions` reads of a request's context over HTTP: the connection's MCP
    session id and its teardown stack."""
    connection = SimpleNamespace(
        session_id=session_id, exit_stack=contextlib.AsyncExitStack(), state={}
    )
    return SimpleNamespace(session=SimpleNamespace(_connection=connection), headers={})


async def test_the_least_recently_used_states_go_first_by_count_and_by_bytes() -> None:
    codeact = CodeAct(backend="wasm", limits=Limits(wall_time=30))
    clients = ClientSessions(codeact, kept=2, kept_bytes=300_000)
    a, b, c = _request("a"), _request("b"), _request("c")
    for ctx, code in [(a, "x = 'a'"), (b, "x = 'b'"), (a, "y = 1"), (c, "x = 'c'")]:
        session, note = await clients.session_for(ctx)
        assert session is not None and note is None
        assert (await clients.trimming_after(session.execute)(code)).ok
    assert len(clients) == 2  # b was the least recently used
    session, note = await clients.session_for(b)
    assert note is not None and FORGOTTEN in note and "at most 2 clients" in note
    assert session is not None and session.names == ()
    # A state past the bytes kept in all pushes the others out, never the newest.
    session, _ = await clients.session_for(c)
    assert session is not None
    assert (await clients.trimming_after(session.execute)("big = 'z' * 400_000")).ok
    assert len(clients) == 1 and clients.held() > 300_000
    session, note = await clients.session_for(b)
    assert note is not None and FORGOTTEN in note


async def test_a_client_that_ends_its_session_frees_its_state() -> None:
    clients = ClientSessions(CodeAct(backend="wasm", limits=Limits(wall_time=30)))
    ctx = _request("gone")
    session, _ = await clients.session_for(ctx)
    assert session is not None and (await session.execute("x = 'x' * 100_000")).ok
    assert len(clients) == 1 and clients.held() > 100_000
    await ctx.session._connection.exit_stack.aclose()  # the SDK does this on DELETE
    assert len(clients) == 0 and clients.held() == 0


async def test_a_client_is_told_however_many_others_came_since() -> None:
    """What marks a forgotten client lives with its connection: a list of forgotten clients
    (4 x kept) let a flood of others make a victim's state vanish without the note."""
    clients = ClientSessions(CodeAct(backend="wasm", limits=Limits(wall_time=30)), kept=1)
    victim, other = _request("victim"), _request("other")
    session, _ = await clients.session_for(victim)
    assert session is not None and (await session.execute("x = 1")).ok
    for n in range(50):
        assert (await clients.session_for(_request(f"flood{n}")))[1] is None
    _, note = await clients.session_for(victim)
    assert note is not None and FORGOTTEN in note
    await clients.session_for(other)
    _, note = await clients.session_for(victim, restart=True)  # asked to start clean
    assert note is None


@pytest.fixture
def bounded_server() -> Iterator[int]:
    with serving_mcp_over_http("--sessions", "--kept-sessions", "2") as port:
        yield port


async def test_over_http_a_client_pushed_out_by_others_is_told(bounded_server: int) -> None:
    url = f"http://127.0.0.1:{bounded_server}/mcp"
    async with mcp.Client(url, mode="legacy") as alice:
        await alice.call_tool("execute_code", {"code": "victim = 'alice'"})
        async with mcp.Client(url, mode="legacy") as bob, mcp.Client(url, mode="legacy") as eve:
            await bob.call_tool("execute_code", {"code": "mine = 1"})
            await eve.call_tool("execute_code", {"code": "mine = 2"})
            later = await alice.call_tool("execute_code", {"code": "'victim' in globals()"})
    text = mcp_text(later)
    assert FORGOTTEN in text and "at most 2 clients" in text, text
    assert "False" in text or "false" in text, text
