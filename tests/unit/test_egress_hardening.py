"""Header, path, URL-size and DNS controls of the host's HTTP egress, against a real server on
127.0.0.1 that records the raw bytes it received (so nothing a parser tidies up is missed)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from codeact import AllowedDomain, NetworkLimits
from codeact.bridge import dns
from codeact.bridge.http_egress import HttpEgress
from codeact.policy.network import find_rule
from codeact.policy.urls import MAX_URL_LENGTH, TargetError, parse_target


def send(egress: HttpEgress, method: str, url: str, headers: Any = ()) -> tuple[bool, Any]:
    request = {"method": method, "url": url, "headers": [list(h) for h in headers]}
    ok, payload = egress.request(json.dumps(request), deadline=time.monotonic() + 10)
    return ok, json.loads(payload)


BAD_HEADERS = {
    "name_with_trailing_blank": ("Host ", "evil.example"),
    "name_with_trailing_tab": ("Transfer-Encoding\t", "chunked"),
    "name_with_inner_space": ("X Forwarded", "1"),
    "name_with_colon": ("Host:", "evil.example"),
    "empty_name": ("", "x"),
    "value_with_crlf": ("X-A", "1\r\nHost: evil.example"),
    "value_with_lf": ("X-A", "1\nHost: evil.example"),
    "value_with_obs_fold": ("X-A", "1\r\n Host: evil.example"),
    "value_with_nul": ("X-A", "1\x00Host: evil.example"),
    "value_with_other_control": ("X-A", "1\x1b[2K"),
}


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_malformed_header_names_and_values_never_reach_the_server(
    raw_server: Any, header: tuple[str, str]
) -> None:
    egress = HttpEgress([AllowedDomain(raw_server.origin)])
    ok, reply = send(egress, "GET", raw_server.origin + "/x", [header])
    assert not ok and "header" in reply["message"], reply
    time.sleep(0.05)
    assert raw_server.heads == []


def test_headers_the_host_sets_are_dropped_whatever_their_case(raw_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(raw_server.origin)])
    headers = [("HOST", "evil.example"), ("content-LENGTH", "5"), ("Connection", "keep-alive")]
    headers += [("TE", "trailers"), ("Upgrade", "h2c"), ("X-Kept", "yes")]
    ok, reply = send(egress, "GET", raw_server.origin + "/x", headers)
    assert ok, reply
    lines = [line.lower() for line in raw_server.header_lines()]
    assert [line for line in lines if line.startswith(b"host")] == [
        f"host: 127.0.0.1:{raw_server.port}".encode()
    ]
    assert not any(line.startswith((b"content-length", b"te:", b"upgrade")) for line in lines)
    assert b"x-kept: yes" in lines and b"connection: keep-alive" not in lines


def test_credentials_of_any_case_are_dropped_across_origins(raw_server: Any) -> None:
    other = raw_server.__class__()
    try:
        egress = HttpEgress([AllowedDomain(raw_server.origin), AllowedDomain(other.origin)])
        creds = [("AUTHORIZATION", "Bearer s3cret"), ("cOOKIE", "id=s3cret"), ("X-Ok", "1")]
        ok, reply = send(egress, "GET", f"{raw_server.origin}/r?to={other.origin}/landed", creds)
        assert ok, reply
        landed = b"\n".join(other.header_lines()).lower()
        assert b"s3cret" not in landed and b"x-ok: 1" in landed
    finally:
        other.close()


PATH_TRICKS = [
    "/public/..;/admin",
    "/public/..;x=1/admin",
    "/public/..%5cadmin",
    "/public/..%5Cadmin",
    "/public/%2e%2e/admin",
    "/public/%2E%2E/admin",
    "/public/%252e%252e/admin",
    "/public%2f..%2fadmin",
    "/public/.%2e/admin",
    "/public;/../admin",
]


@pytest.mark.parametrize("path", PATH_TRICKS)
def test_path_prefix_rules_refuse_paths_a_server_reads_differently(path: str) -> None:
    rule = AllowedDomain("https://api.example.com/public")
    try:
        target = parse_target("https://api.example.com" + path)
    except TargetError:
        return  # refused before any rule: fine
    found, why = find_rule([rule], "GET", target)
    assert found is None, f"{path} passed the /public rule"
    assert "/public" in why


def test_path_prefix_rules_still_allow_plain_paths() -> None:
    rule = AllowedDomain("https://api.example.com/public")
    for path in ("/public", "/public/a.json", "/public/x/y?q=1;2"):
        found, why = find_rule([rule], "GET", parse_target("https://api.example.com" + path))
        assert found is rule, why


def test_a_huge_url_is_refused_by_its_size_first() -> None:
    url = "https://api.example.com/" + "a" * 40_000_000
    with pytest.raises(TargetError, match="MAX_URL_LENGTH"):
        parse_target(url)
    parse_target("https://api.example.com/" + "a" * (MAX_URL_LENGTH - 100))


def test_a_huge_url_is_refused_by_the_egress(raw_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(raw_server.origin)])
    ok, reply = send(egress, "GET", raw_server.origin + "/" + "a" * 1_000_000)
    assert not ok and "MAX_URL_LENGTH" in reply["message"]
    assert raw_server.heads == []


class SlowResolver:
    """Blocks every lookup until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.started += 1
        self.release.wait(30)
        return ["127.0.0.1"]


def test_one_programs_slow_lookups_do_not_make_anothers_time_out(raw_server: Any) -> None:
    slow = SlowResolver()
    hostile = HttpEgress(
        [AllowedDomain(f"slow{i}.test", ports=raw_server.port) for i in range(9)],
        NetworkLimits(timeout=0.3),
        resolver=slow,
    )
    try:
        threads = [
            threading.Thread(
                target=send, args=(hostile, "GET", f"http://slow{i}.test:{raw_server.port}/")
            )
            for i in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        # Its lookups are still stuck in the resolver; another execution's goes through.
        other = HttpEgress(
            [AllowedDomain("fast.test", ports=raw_server.port)],
            NetworkLimits(timeout=2),
            resolver=lambda host, port: ["127.0.0.1"],
        )
        ok, reply = send(other, "GET", f"http://fast.test:{raw_server.port}/")
        assert ok, reply
        # The stuck program itself is bounded: no more than PER_EXECUTION threads were started.
        assert slow.started <= dns.PER_EXECUTION
        # A host it has not looked up yet (one already in flight would be shared and time
        # out instead, whichever of the eight the threads started first).
        ok, reply = send(hostile, "GET", f"http://slow8.test:{raw_server.port}/")
        assert not ok and "still unanswered" in reply["message"]
    finally:
        slow.release.set()


def test_a_cancelled_execution_stops_waiting_for_its_lookup() -> None:
    slow = SlowResolver()
    lookups = dns.Lookups(slow)
    try:
        threading.Timer(0.2, lookups.cancel).start()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            lookups.resolve("stuck.test", 80, until=time.monotonic() + 20)
        assert time.monotonic() - started < 5
    finally:
        slow.release.set()
