"""Sockets and DNS: nothing a program opens may reach a listener on the host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

TRY = """
def attempt(name, act):
    try:
        print("REACHED", name, act())
    except Exception as e:
        print(name, type(e).__name__)
"""

NETWORK_ATTEMPTS = {
    "tcp_connect_to_the_host": """
import socket
def go():
    s = socket.create_connection(("127.0.0.1", @TCP_PORT@), timeout=2)
    s.sendall(b"escaped")
    return s
attempt("tcp", go)
""",
    "tcp_over_ipv6_and_localhost_names": """
import socket
attempt("ipv6", lambda: socket.create_connection(("::1", @TCP_PORT@), timeout=2))
attempt("localhost", lambda: socket.create_connection(("localhost", @TCP_PORT@), timeout=2))
""",
    "udp_datagram_to_the_host": """
import socket
def go():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return s.sendto(b"escaped", ("127.0.0.1", @UDP_PORT@))
attempt("udp", go)
""",
    "unix_socket_file_on_the_host": """
import socket
def go():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("@UNIX_PATH@")
    return s
attempt("unix", go)
""",
    "abstract_unix_socket_on_the_host": """
import socket
def go():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\\0@ABSTRACT@")
    return s
attempt("abstract", go)
""",
    "low_level_socket_module": """
import _socket
def go():
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", @TCP_PORT@))
    return s
attempt("_socket", go)
""",
    "raw_and_packet_sockets": """
import socket
attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
attempt("packet", lambda: socket.socket(getattr(socket, "AF_PACKET", 17), socket.SOCK_RAW))
attempt("netlink", lambda: socket.socket(getattr(socket, "AF_NETLINK", 16), socket.SOCK_RAW))
""",
    "dns_lookups": """
import socket
attempt("getaddrinfo", lambda: socket.getaddrinfo("localhost", @TCP_PORT@))
attempt("gethostbyname", lambda: socket.gethostbyname("example.com"))
""",
    "urllib_and_http_client": """
import urllib.request, http.client
attempt("urlopen", lambda: urllib.request.urlopen("http://127.0.0.1:@TCP_PORT@/", timeout=2).read())
attempt("http.client", lambda: http.client.HTTPConnection("127.0.0.1", @TCP_PORT@, timeout=2).request("GET", "/"))
""",
    "asyncio_open_connection_and_server": """
import asyncio
async def main():
    try:
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", @TCP_PORT@), 2)
        print("REACHED asyncio connection")
    except Exception as e:
        print("asyncio", type(e).__name__)
    try:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        # asyncio skips addresses it cannot open a socket for: count what really listens
        print("REACHED listening" if server.sockets else "listen: no sockets")
    except Exception as e:
        print("listen", type(e).__name__)
asyncio.run(main())
""",
    "inherited_descriptors_used_as_sockets": """
import socket, os
for fd in range(3, 64):
    try:
        s = socket.socket(fileno=os.dup(fd))
    except Exception:
        continue
    try:
        s.connect(("127.0.0.1", @TCP_PORT@))
        print("REACHED through fd", fd)
    except Exception as e:
        print("fd", fd, type(e).__name__)
""",
}

# raw sockets need privileges a test run may not have; fd reuse needs the sandbox's channel.
NO_CONTROL = {"raw_and_packet_sockets", "inherited_descriptors_used_as_sockets", "dns_lookups"}


@pytest.mark.parametrize("name", list(NETWORK_ATTEMPTS))
async def test_no_socket_reaches_the_host(attempt: Callable[..., Any], name: str) -> None:
    result = await attempt(TRY + NETWORK_ATTEMPTS[name])
    reached = [line for line in result.stdout.splitlines() if line.startswith("REACHED")]
    assert reached == [], result.stdout


@pytest.mark.parametrize("name", [n for n in NETWORK_ATTEMPTS if n not in NO_CONTROL])
def test_attempt_escapes_without_a_sandbox(
    unsandboxed: Callable[[str], list[str]], name: str
) -> None:
    """The same attempt, run by a plain interpreter on the host, does reach the host: so the
    attempt is real, and its failure above is the sandbox's doing."""
    assert unsandboxed(TRY + NETWORK_ATTEMPTS[name])
