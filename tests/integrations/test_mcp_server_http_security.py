"""`codeact serve-mcp --http` refuses requests that name another host (DNS rebinding) or come
from another site's page (Origin), on every address, not only on exactly 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install -e '.[mcp]'")

import httpx
import mcp

from codeact import ConfigurationError
from codeact.integrations.mcp_server import http_transport_security

from .conftest import free_port, mcp_text, stop, wait_for_port

pytestmark = pytest.mark.usefixtures("wasm_ready")

TOOLS = "codeact.workloads.order_totals:TOOLS"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}


def can_bind(address: str) -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True


def initialize(address: str, port: int, host: str, origin: str | None = None) -> httpx.Response:
    """An initialize request to the server at address:port, saying `host` and `origin`."""
    headers = {"Host": host, "Accept": "application/json, text/event-stream"}
    if origin is not None:
        headers["Origin"] = origin
    with httpx.Client(timeout=30) as client:
        return client.post(f"http://{address}:{port}/mcp", json=INITIALIZE, headers=headers)


def start(command: list[str], address: str, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(port, process, host=address)
    except BaseException:
        stop(process)
        raise
    return process


@pytest.fixture(params=["127.0.0.1", "127.0.0.2"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """`codeact serve-mcp --http ADDRESS:PORT`; 127.0.0.2 is loopback too, but the MCP SDK
    guards only the exact strings 127.0.0.1, localhost and ::1 by itself."""
    address: str = request.param
    if not can_bind(address):
        pytest.skip(f"{address} is not a loopback address here (only 127.0.0.1 on macOS)")
    port = free_port()
    command = [sys.executable, "-m", "codeact", "serve-mcp", "--tools", TOOLS]
    process = start([*command, "--http", f"{address}:{port}"], address, port)
    try:
        yield address, port
    finally:
        stop(process)


async def test_a_foreign_host_or_origin_is_refused_and_the_servers_own_names_are_served(
    served: tuple[str, int],
) -> None:
    address, port = served
    rebound = initialize(address, port, f"evil.example:{port}", f"http://evil.example:{port}")
    assert rebound.status_code == 421, rebound.text  # a DNS-rebinding page's request
    assert "mcp-session-id" not in rebound.headers
    cross_site = initialize(address, port, f"{address}:{port}", "http://evil.example")
    assert cross_site.status_code == 403, cross_site.text  # another site's page
    assert "mcp-session-id" not in cross_site.headers

    for host in (f"{address}:{port}", f"localhost:{port}"):
        same_site = initialize(address, port, host, f"http://{host}")
        assert same_site.status_code == 200, (host, same_site.text)
        assert same_site.headers.get("mcp-session-id")
    no_origin = initialize(address, port, f"{address}:{port}")  # a non-browser client
    assert no_origin.status_code == 200, no_origin.text

    async with mcp.Client(f"http://{address}:{port}/mcp") as client:
        result = await client.call_tool("execute_code", {"code": "6 * 7"})
    assert not result.is_error and "42" in mcp_text(result)


@pytest.mark.parametrize("via", ["python", "cli"])
def test_allow_hosts_adds_the_name_a_reverse_proxy_forwards(via: str) -> None:
    port = free_port()
    script = (
        "import sys\n"
        "from codeact import CodeAct\n"
        "from codeact.integrations.mcp_server import serve_mcp\n"
        "serve_mcp(CodeAct(), http=('127.0.0.1', int(sys.argv[1])),"
        " allow_hosts=['mcp.example.com'])\n"
    )
    command = (
        [sys.executable, "-c", script, str(port)]
        if via == "python"
        else [sys.executable, "-m", "codeact", "serve-mcp", *("--http", f"127.0.0.1:{port}")]
    )
    if via == "cli":
        command += ["--allow-host", "mcp.example.com"]
    process = start(command, "127.0.0.1", port)
    try:
        proxied = initialize("127.0.0.1", port, "mcp.example.com", "https://mcp.example.com")
        assert proxied.status_code == 200, proxied.text
        assert initialize("127.0.0.1", port, f"127.0.0.1:{port}").status_code == 200
        assert initialize("127.0.0.1", port, "evil.example").status_code == 421
        other = initialize("127.0.0.1", port, "mcp.example.com", "https://evil.example")
        assert other.status_code == 403
    finally:
        stop(process)


def test_the_accepted_hosts_for_each_kind_of_address() -> None:
    lan = http_transport_security("192.168.1.5")
    assert lan.enable_dns_rebinding_protection
    assert lan.allowed_hosts == ["192.168.1.5", "192.168.1.5:*"]  # no loopback names
    assert "http://192.168.1.5:*" in lan.allowed_origins
    assert not any("evil" in o or o.endswith("//*") for o in lan.allowed_origins)

    v6 = http_transport_security("0:0:0:0:0:0:0:1").allowed_hosts
    assert {"[0:0:0:0:0:0:0:1]:*", "[::1]:*", "127.0.0.1:*", "localhost:*"} <= set(v6)

    everywhere = http_transport_security("0.0.0.0").allowed_hosts  # all interfaces
    assert {"127.0.0.1:*", "localhost:*", f"{socket.gethostname()}:*"} <= set(everywhere)
    assert http_transport_security("::").allowed_hosts == everywhere

    proxied = http_transport_security("127.0.0.1", allow_hosts=["proxy.lan:8443", "[fe80::1]"])
    assert "proxy.lan:8443" in proxied.allowed_hosts
    assert "proxy.lan:*" not in proxied.allowed_hosts  # a port given: that port only
    assert {"[fe80::1]", "[fe80::1]:*"} <= set(proxied.allowed_hosts)
    assert "https://proxy.lan:8443" in proxied.allowed_origins
    for bad in ("http://proxy.lan", "*", "proxy.lan:0", "a:b:c", ""):
        with pytest.raises(ConfigurationError, match="--allow-host takes"):
            http_transport_security("127.0.0.1", allow_hosts=[bad])


def test_the_cli_takes_allow_host_only_with_http() -> None:
    from ..cli_run import run_codeact

    proc = run_codeact("serve-mcp", "--allow-host", "mcp.example.com", stdin="")
    assert proc.returncode == 2
    assert "--allow-host applies to --http only" in proc.stderr
    proc = run_codeact("serve-mcp", "--http", "127.0.0.1:1", "--allow-host", "http://x", stdin="")
    assert proc.returncode == 2
    assert "--allow-host takes" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
