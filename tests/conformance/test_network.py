"""HTTP from inside the sandbox, against a real server on 127.0.0.1 started by the test:
exactly what the allow-list permits gets through; everything else is refused, with why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from codeact import AllowedDomain, CodeAct, Limits, NetworkLimits


def get_only(server: Any) -> list[AllowedDomain]:
    return [AllowedDomain(server.origin, methods="GET")]


async def test_an_allowed_get_passes(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(allowed_domains=get_only(http_server))
    code = f"""
r = http_get({http_server.url("/items")!r}, headers={{"Accept": "application/json"}},
             params={{"q": "a b"}})
print(r.status, r.ok, r.headers["content-type"])
r.json()
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.stdout == "200 True application/json\n"
    assert result.value["method"] == "GET" and result.value["path"] == "/items?q=a+b"
    assert result.value["headers"]["Accept"] == "application/json"
    assert [(r.method, r.status, r.outcome) for r in result.http_requests] == [("GET", 200, "ok")]


async def test_urlopen_goes_through_the_same_checks(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(allowed_domains=get_only(http_server))
    code = f"""
import json, urllib.request, urllib.error
with urllib.request.urlopen({http_server.url("/via-urllib")!r}, timeout=5) as resp:
    print(resp.status, json.load(resp)["path"])
try:
    urllib.request.urlopen("http://localhost:{http_server.port}/")
except urllib.error.URLError as e:
    print("URLError:", e.reason)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    lines = result.stdout.splitlines()
    assert lines[0] == "200 /via-urllib"
    assert lines[1].startswith("URLError: GET http://localhost:")
    assert "no allowed_domains rule for localhost" in lines[1]
    assert http_server.paths() == ["/via-urllib"]


async def test_other_methods_are_refused(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(allowed_domains=get_only(http_server))
    code = f"""
for send in (lambda: http_post({http_server.url("/x")!r}, json={{"a": 1}}),
             lambda: http_request("DELETE", {http_server.url("/x")!r})):
    try:
        send()
        print("SENT")
    except NetworkDenied as e:
        print("denied:", e)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "SENT" not in result.stdout
    assert f"denied: POST {http_server.origin}/x is not allowed: the rule" in result.stdout
    assert "allows only GET" in result.stdout
    assert http_server.hits == []


async def test_other_hosts_and_ports_are_refused(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(allowed_domains=get_only(http_server))
    code = f"""
for url in ["http://localhost:{http_server.port}/", "http://127.0.0.1:{http_server.port + 1}/",
            "https://127.0.0.1:{http_server.port}/", "http://evil.example/",
            "http://2130706433:{http_server.port}/", "file:///etc/passwd"]:
    try:
        http_get(url)
        print("SENT", url)
    except NetworkError as e:
        print(type(e).__name__, e)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "SENT" not in result.stdout
    assert result.stdout.count("NetworkDenied") == 5, result.stdout
    assert "GET http://evil.example/ is not allowed: no allowed_domains rule for evil.example" in (
        result.stdout
    )
    assert "only http and https URLs can be fetched" in result.stdout
    assert http_server.hits == []


async def test_a_redirect_to_a_refused_host_is_refused(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(allowed_domains=get_only(http_server))
    away = http_server.url(f"/redirect?to=http://localhost:{http_server.port}/stolen")
    code = f"""
try:
    http_get({away!r})
except NetworkDenied as e:
    print(e)
http_get({http_server.url("/redirect?to=/landed")!r}).json()["path"]
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert f"was redirected to http://localhost:{http_server.port}/stolen" in result.stdout
    assert result.value == "/landed"
    assert "/stolen" not in http_server.paths()


async def test_an_oversized_response_is_cut_off(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(
        allowed_domains=get_only(http_server),
        network_limits=NetworkLimits(max_response_bytes=10_000),
    )
    code = f"""
try:
    http_get({http_server.url("/stream?n=50000")!r})
except NetworkError as e:
    print(type(e).__name__, e)
len(http_get({http_server.url("/big?n=10000")!r}).content)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "NetworkError the response to GET" in result.stdout
    assert "larger than 10000 bytes" in result.stdout
    assert result.value == 10_000


async def test_a_slow_response_times_out(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(
        allowed_domains=get_only(http_server), network_limits=NetworkLimits(timeout=0.5)
    )
    code = f"""
try:
    http_get({http_server.url("/slow?s=5")!r})
except TimeoutError as e:
    print("timed out:", isinstance(e, NetworkError), e)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.stdout.startswith("timed out: True GET ")
    assert "(NetworkLimits.timeout=0.5s ran out)" in result.stdout


async def test_a_timeout_the_program_passes_is_checked_in_the_sandbox(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    # timeout=10**400 ended the execution: "the host failed serving the program:
    # OverflowError". A number longer than the limits is the limits; one that is no number
    # of seconds is a TypeError or ValueError the program catches.
    codeact = make_codeact(allowed_domains=get_only(http_server))
    url = http_server.url("/")
    code = f"""
for t in [10**400, float("inf"), float("nan"), 0, -1, True, "3"]:
    try:
        print(t if isinstance(t, float) else type(t).__name__, http_get({url!r}, timeout=t).status)
    except (TypeError, ValueError) as e:
        print(type(e).__name__, e)
import urllib.request
print(urllib.request.urlopen({url!r}, timeout=10**400).status)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.stdout.splitlines() == [
        "int 200",
        "inf 200",
        "ValueError timeout must be a positive number of seconds, not nan",
        "ValueError timeout must be a positive number of seconds, not 0",
        "ValueError timeout must be a positive number of seconds, not -1",
        "TypeError timeout must be a number of seconds or None, not bool",
        "TypeError timeout must be a number of seconds or None, not str",
        "200",
    ]


async def test_a_timeout_the_program_passed_is_the_one_named(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    # The program's own, shorter timeout ran out: the message names it, not the limit (15 s
    # by default, which did not run out) nor the execution's wall time.
    codeact = make_codeact(allowed_domains=get_only(http_server))
    code = f"""
try:
    http_get({http_server.url("/slow?s=5")!r}, timeout=0.5)
except TimeoutError as e:
    print("timed out:", e)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "(the timeout=0.5s the program passed ran out)" in result.stdout, result.stdout
    assert "NetworkLimits" not in result.stdout and "wall time" not in result.stdout
    assert result.http_requests[0].error is not None
    assert "timeout=0.5s the program passed" in result.http_requests[0].error


async def test_a_response_trickling_in_without_a_length_times_out_and_is_let_go(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    """A body with no Content-Length that never ends (a line every 0.1 s) waited for the
    wall time, and the host went on reading it after the execution had ended."""
    codeact = make_codeact(
        allowed_domains=get_only(http_server),
        network_limits=NetworkLimits(timeout=1),
        limits=Limits(wall_time=20),
    )
    code = f"""
import time
started = time.monotonic()
try:
    http_get({http_server.url("/trickle?s=30")!r})
except TimeoutError as e:
    print("timed out after", round(time.monotonic() - started))
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.stdout in ("timed out after 1\n", "timed out after 2\n"), result.stdout
    for _ in range(100):  # the server sees the client go at its next line (0.1 s)
        if http_server.gave_up:
            break
        await asyncio.sleep(0.05)
    assert http_server.gave_up == ["/trickle?s=30"]  # the host let go of the connection


async def test_headers_cut_off_by_the_timeout_are_a_timeout_not_an_empty_200(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    """The timer's shut socket read as the end of the headers: the program got status 200
    and an empty body for a response that never came."""
    codeact = make_codeact(
        allowed_domains=get_only(http_server), network_limits=NetworkLimits(timeout=1)
    )
    code = f"""
try:
    r = http_get({http_server.url("/slow-headers?s=30")!r})
    print("got", r.status)
except TimeoutError as e:
    print("timed out")
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.stdout == "timed out\n"
    assert [r.outcome for r in result.http_requests] == ["error"]


async def test_the_request_limit_stops_the_program(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(
        allowed_domains=get_only(http_server), network_limits=NetworkLimits(max_requests=3)
    )
    result = await codeact.execute(
        f"for i in range(10):\n    http_get({http_server.url('/n')!r})\n    print(i)"
    )
    assert not result.ok and result.error is not None
    assert result.error.limit == "network"
    assert result.stdout == "0\n1\n2\n"
    assert len(http_server.hits) == 3


async def test_a_host_that_grants_nothing_exposes_nothing(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    codeact = make_codeact(limits=Limits(wall_time=20))
    code = f"""
import os, socket, urllib.request
def probe(label, fn):
    try:
        print(label, "OPEN", repr(fn())[:80])
    except Exception as e:
        print(label, "REFUSED", type(e).__name__, e)
probe("http_get", lambda: http_get({http_server.url("/")!r}))
probe("urlopen", lambda: urllib.request.urlopen({http_server.url("/")!r}))
probe("socket", lambda: socket.create_connection(("127.0.0.1", {http_server.port}), timeout=2))
probe("root", lambda: os.listdir("/"))
probe("cwd", lambda: os.listdir("."))
probe("env", lambda: dict(os.environ) or 1/0)
print(os.listdir("/output"))
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "OPEN" not in result.stdout
    assert result.stdout.count("REFUSED") == 6
    assert "no allowed_domains rule for 127.0.0.1" in result.stdout
    assert result.stdout.endswith("[]\n")
    assert http_server.hits == []
    assert result.files == []
    description = codeact.tool_description()
    assert "It has no host files." in description
    assert "It has no network access." in description


SOCKET_ROUTES = {
    "getaddrinfo": 'socket.getaddrinfo("example.com", 443)',
    "getaddrinfo_numeric": 'socket.getaddrinfo("127.0.0.1", {port})',
    "gethostbyname": 'socket.gethostbyname("example.com")',
    "gethostbyname_ex": 'socket.gethostbyname_ex("example.com")',
    "gethostbyaddr": 'socket.gethostbyaddr("127.0.0.1")',
    "getnameinfo": 'socket.getnameinfo(("127.0.0.1", {port}), 0)',
    "create_connection": 'socket.create_connection(("example.com", 80), timeout=2)',
    "create_connection_ip": 'socket.create_connection(("127.0.0.1", {port}), timeout=2)',
    "socket": "socket.socket()",
    "connect": 'socket.socket().connect(("127.0.0.1", {port}))',
    "http_client": 'http.client.HTTPConnection("127.0.0.1", {port}, timeout=2).request("GET", "/")',
}
_REFUSED = (
    "PermissionError: [EACCES] no network in the sandbox; grant hosts with allowed_domains=[...] "
    "and reach them with http_get()/http_request() or urllib.request"
)


async def test_every_socket_route_is_refused_with_the_same_explanation(
    make_codeact: Callable[..., CodeAct], http_server: Any
) -> None:
    # Name lookups (and create_connection and http.client, which look the name up first)
    # failed with each backend's own resolver error: wasm's "[Errno -4] Non-recoverable
    # error", the jail's "[Errno -3] Temporary failure in name resolution", read as an
    # outage to retry. With a host granted the sandbox still has no sockets or resolver:
    # the same refusal (the granted host is reached through http_get or urllib).
    probes = "\n".join(
        f"probe({label!r}, lambda: {call.format(port=http_server.port)})"
        for label, call in SOCKET_ROUTES.items()
    )
    code = f"""
import http.client, socket
def probe(label, fn):
    try:
        print(label, "OPEN", repr(fn())[:80])
    except OSError as e:
        print(label, f"{{type(e).__name__}}: {{e}}")
{probes}
try:  # a program that handles a failed lookup still does
    socket.getaddrinfo("example.com", 80)
except socket.gaierror:
    print("caught as gaierror")
"""
    expected = "".join(f"{label} {_REFUSED}\n" for label in SOCKET_ROUTES)
    for grants in ([], get_only(http_server)):
        result = await make_codeact(allowed_domains=grants).execute(code)
        assert result.ok, result.error
        assert result.stdout == expected + "caught as gaierror\n", grants
    result = await make_codeact().execute('import socket\nsocket.getaddrinfo("example.com", 80)')
    assert result.error is not None and result.error.type == "PermissionError"
    assert result.error.traceback.endswith(_REFUSED + "\n")
    assert http_server.hits == []
