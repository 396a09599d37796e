"""`serve-mcp --sessions`: each MCP client's programs share their variables, clients do not
share theirs, and ``restart`` starts a client over."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install -e '.[mcp]'")

import mcp

from codeact import CodeAct
from codeact.integrations.mcp_client import mcp_tools
from codeact.integrations.mcp_server import build_mcp_server

from .conftest import free_port, mcp_text, serving_mcp_over_http, stop, wait_for_port

pytestmark = pytest.mark.usefixtures("wasm_ready")

TOOLS = "codeact.workloads.order_totals:TOOLS"


async def test_stdio_client_keeps_its_variables_and_can_restart() -> None:
    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "codeact", "serve-mcp", "--tools", TOOLS, "--sessions"],
    )
    async with mcp.Client(params) as client:
        listing = await client.list_tools()
        first = await client.call_tool("execute_code", {"code": "users = list_users()"})
        second = await client.call_tool("execute_code", {"code": "len(users)"})
        restarted = await client.call_tool(
            "execute_code", {"code": "'users' in globals()", "restart": True}
        )
    schema = listing.tools[0].input_schema
    assert schema["required"] == ["code"] and schema["properties"]["restart"]["type"] == "boolean"
    assert "are kept for the next call" in (listing.tools[0].description or "")
    assert not first.is_error and "kept for the next call: users" in mcp_text(first)
    assert not second.is_error and "8" in mcp_text(second)
    assert "False" in mcp_text(restarted) or "false" in mcp_text(restarted)


async def test_without_sessions_nothing_carries_over_and_there_is_no_restart() -> None:
    server = build_mcp_server(CodeAct(backend="wasm"))
    async with mcp.Client(server) as client:
        listing = await client.list_tools()
        await client.call_tool("execute_code", {"code": "x = 1"})
        second = await client.call_tool("execute_code", {"code": "x"})
    assert "restart" not in listing.tools[0].input_schema["properties"]
    assert second.is_error and "NameError" in mcp_text(second)


@pytest.fixture
def http_sessions_server() -> Iterator[int]:
    with serving_mcp_over_http("--sessions") as port:
        yield port


async def test_http_clients_with_an_mcp_session_each_have_their_own(
    http_sessions_server: int,
) -> None:
    url = f"http://127.0.0.1:{http_sessions_server}/mcp"
    # Protocol 2025-11-25 and older: the handshake gives each client an Mcp-Session-Id.
    async with mcp.Client(url, mode="legacy") as alice, mcp.Client(url, mode="legacy") as bob:
        await alice.call_tool("execute_code", {"code": "secret = 'alice'"})
        await bob.call_tool("execute_code", {"code": "mine = 'bob'"})
        bob_sees = await bob.call_tool("execute_code", {"code": "'secret' in globals()"})
        alice_sees = await alice.call_tool(
            "execute_code", {"code": "[secret, 'mine' in globals()]"}
        )
    assert "False" in mcp_text(bob_sees) or "false" in mcp_text(bob_sees)
    assert '["alice", false]' in mcp_text(alice_sees), mcp_text(alice_sees)


async def test_a_stateless_http_request_is_told_that_nothing_is_kept(
    http_sessions_server: int,
) -> None:
    url = f"http://127.0.0.1:{http_sessions_server}/mcp"
    async with mcp.Client(url) as client:  # protocol 2026-07-28: no MCP session
        first = await client.call_tool("execute_code", {"code": "x = 1"})
        second = await client.call_tool("execute_code", {"code": "x"})
    assert "came without an MCP session" in mcp_text(first)
    assert second.is_error and "NameError" in mcp_text(second)


@pytest.mark.parametrize("headers", [None, {"X-Test": "1"}])
async def test_codeacts_own_mcp_tools_over_http_keep_their_session(
    http_sessions_server: int, headers: dict[str, str] | None
) -> None:
    """One `mcp_tools` is one MCP session: over HTTP it was a stateless client (protocol
    2026-07-28), so the server never kept a variable of its programs."""
    url = f"http://127.0.0.1:{http_sessions_server}/mcp"
    async with mcp_tools(url, headers=headers) as remote:
        codeact = CodeAct(tools=[*remote])
        first = await codeact.execute('execute_code(code="x = 41")')
        second = await codeact.execute('execute_code(code="x + 1")')
    assert first.ok and "[session] kept for the next call: x" in str(first.value), first.value
    assert second.ok and "[value] 42" in str(second.value), second.to_model_text()


@pytest.fixture
def modern_only_server() -> Iterator[int]:
    port = free_port()
    server = Path(__file__).with_name("mcp_modern_only_server.py")
    process = subprocess.Popen(
        [sys.executable, str(server), str(port)], stdout=subprocess.DEVNULL, text=True
    )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        stop(process)


async def test_mcp_tools_still_reach_a_server_that_refuses_the_handshake(
    modern_only_server: int,
) -> None:
    """The handshake is tried first (it gives the session); a server that speaks only the
    stateless protocol is reached with that."""
    async with mcp_tools(f"http://127.0.0.1:{modern_only_server}/mcp") as remote:
        result = await CodeAct(tools=[*remote]).execute("double(x=21)")
    assert result.ok and result.value == 42, result.to_model_text()
