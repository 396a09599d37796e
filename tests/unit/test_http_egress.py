"""The host's HTTP egress, driven directly against a real server on 127.0.0.1.

Host names other than 127.0.0.1 are resolved by a resolver the test gives (so no test needs
DNS), which is also how DNS tricks (an answer that changes, an internal address behind a
public-looking name) are played.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import threading
import time
import urllib.parse
from typing import Any

import pytest

from codeact import AllowedDomain, NetworkLimits
from codeact.bridge.http_egress import HttpEgress
from codeact.bridge.protocol import ExecutionStopped
from codeact.policy.addresses import non_public_reason


class Resolver:
    """Answers from a table (a list of answers per name is used in turn); counts lookups."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table[host]
        return answers[min(len(self.calls) - 1, len(answers) - 1)]


def send(egress: HttpEgress, method: str, url: str, **extra: Any) -> tuple[bool, dict[str, Any]]:
    request = {"method": method, "url": url, "headers": extra.pop("headers", [])}
    if "body" in extra:
        request["body"] = base64.b64encode(extra.pop("body")).decode()
    request.update(extra)
    ok, payload = egress.request(json.dumps(request), deadline=time.monotonic() + 30)
    data = json.loads(payload)
    if ok:
        data["body"] = base64.b64decode(data["body"])
    return ok, data


def test_an_allowed_request_reaches_the_server(http_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(http_server.origin, methods="GET")])
    ok, response = send(egress, "GET", http_server.url("/hello?q=1"), headers=[["X-A", "1"]])
    assert ok and response["status"] == 200
    echoed = json.loads(response["body"])
    assert echoed["path"] == "/hello?q=1" and echoed["headers"]["X-A"] == "1"
    assert echoed["headers"]["User-Agent"] == "codeact-sandbox"
    assert [(r.method, r.status, r.outcome) for r in egress.records] == [("GET", 200, "ok")]


def test_the_connection_goes_to_the_address_that_was_checked(http_server: Any) -> None:
    # First answer: 127.0.0.1 (allowed: the rule names the host exactly). Any later lookup
    # would say 192.0.2.1 (unreachable): the request still succeeds, so there was none.
    resolver = Resolver({"pinned.test": [["127.0.0.1"], ["192.0.2.1"]]})
    egress = HttpEgress([AllowedDomain(f"pinned.test:{http_server.port}")], resolver=resolver)
    ok, response = send(egress, "GET", f"http://pinned.test:{http_server.port}/x")
    assert ok, response
    assert resolver.calls == ["pinned.test"]
    assert json.loads(response["body"])["headers"]["Host"] == f"pinned.test:{http_server.port}"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (["127.0.0.1"], "a loopback address"),
        (["10.1.2.3"], "a private or reserved address"),
        (["93.184.216.34", "192.168.1.1"], "a private or reserved address"),
        (["169.254.169.254"], "a cloud metadata address"),
        (["fd00:ec2::254"], "a cloud metadata address"),
        (["100.64.0.7"], "a carrier-grade NAT (CGNAT) address"),
        (["::ffff:127.0.0.1"], "a loopback address"),
    ],
)
def test_a_wildcard_never_reaches_internal_addresses(
    http_server: Any, answer: list[str], kind: str
) -> None:
    resolver = Resolver({"sneaky.example.org": [answer]})
    egress = HttpEgress([AllowedDomain("*.example.org")], resolver=resolver)
    ok, error = send(egress, "GET", "http://sneaky.example.org/")
    assert not ok and error["kind"] == "denied"
    assert kind in error["message"]
    assert "allowed_domains=['sneaky.example.org']" in error["message"]
    assert http_server.hits == []


def test_an_exact_rule_unlocks_an_internal_address(http_server: Any) -> None:
    resolver = Resolver({"intranet.test": [["127.0.0.1"]]})
    egress = HttpEgress([AllowedDomain("intranet.test", ports=http_server.port)], resolver=resolver)
    ok, _ = send(egress, "GET", f"http://intranet.test:{http_server.port}/")
    assert ok


def test_an_exact_rule_for_other_requests_does_not_unlock_a_wildcard_match(
    http_server: Any,
) -> None:
    resolver = Resolver({"db.corp.test": [["127.0.0.1"]]})
    egress = HttpEgress(
        [AllowedDomain("*.corp.test"), AllowedDomain("db.corp.test", methods="DELETE")],
        resolver=resolver,
    )
    ok, error = send(egress, "GET", "http://db.corp.test/")
    assert not ok and "a loopback address" in error["message"]


def test_localhost_by_ip_needs_its_own_rule(http_server: Any) -> None:
    egress = HttpEgress([AllowedDomain("*.example.org")])
    ok, error = send(egress, "GET", http_server.url("/"))
    assert not ok and "no allowed_domains rule for 127.0.0.1" in error["message"]
    assert http_server.hits == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::",
        "fec0::1",
        "64:ff9b:1::a00:1",
    ],
)
def test_internal_addresses_are_recognised(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_not(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is None


def test_every_redirect_hop_is_checked(http_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(http_server.origin)])
    away = http_server.url("/redirect?to=http://evil.example/steal")
    ok, error = send(egress, "GET", away)
    assert not ok and error["kind"] == "denied"
    assert error["message"].startswith(f"GET {away} was redirected to http://evil.example/steal;")
    assert "no allowed_domains rule for evil.example" in error["message"]
    ok, response = send(egress, "GET", http_server.url("/redirect?to=/final"))
    assert ok and response["url"] == http_server.url("/final")
    assert http_server.paths()[-1] == "/final"


def test_redirects_drop_credentials_across_origins_and_turn_303_into_get(
    http_server: Any,
) -> None:
    resolver = Resolver({"other.test": [["127.0.0.1"]]})
    egress = HttpEgress(
        [AllowedDomain(http_server.origin), AllowedDomain(f"other.test:{http_server.port}")],
        resolver=resolver,
    )
    target = f"http://other.test:{http_server.port}/landed"
    ok, _ = send(
        egress,
        "POST",
        http_server.url(f"/redirect?code=303&to={target}"),
        headers=[["Authorization", "Bearer secret"], ["Content-Type", "text/plain"]],
        body=b"payload",
    )
    assert ok
    method, path, headers, body = http_server.hits[-1]
    assert (method, path, body) == ("GET", "/landed", b"")
    assert "Authorization" not in headers and "Content-Type" not in headers


def test_a_host_header_from_the_program_is_ignored(http_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(http_server.origin)])
    ok, response = send(egress, "GET", http_server.url("/"), headers=[["Host", "internal"]])
    assert ok
    assert json.loads(response["body"])["headers"]["Host"] == f"127.0.0.1:{http_server.port}"


def redirect_chain(hops: int) -> str:
    path = "/x"
    for _ in range(hops):
        path = "/redirect?to=" + urllib.parse.quote(path, safe="")
    return path


def test_too_many_redirects(http_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(http_server.origin)], NetworkLimits(max_redirects=2))
    ok, response = send(egress, "GET", http_server.url(redirect_chain(2)))
    assert ok and response["url"] == http_server.url("/x")
    ok, error = send(egress, "GET", http_server.url(redirect_chain(3)))
    assert not ok and "more than 2 redirects" in error["message"]


@pytest.mark.parametrize("path", ["/big?n=5000", "/stream?n=5000"], ids=["length", "no-length"])
def test_an_oversized_response_is_cut_off(http_server: Any, path: str) -> None:
    egress = HttpEgress([AllowedDomain(http_server.origin)], NetworkLimits(max_response_bytes=1000))
    ok, error = send(egress, "GET", http_server.url(path))
    assert not ok and error["kind"] == "error"
    assert "is larger than 1000 bytes (NetworkLimits.max_response_bytes)" in error["message"]
    ok, response = send(egress, "GET", http_server.url("/big?n=1000"))
    assert ok and len(response["body"]) == 1000


def test_a_slow_response_times_out(http_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(http_server.origin)], NetworkLimits(timeout=0.3))
    ok, error = send(egress, "GET", http_server.url("/slow?s=3"))
    assert not ok and error["kind"] == "timeout"
    assert "timed out" in error["message"]


def test_the_request_limit_stops_the_program(http_server: Any) -> None:
    egress = HttpEgress([], NetworkLimits(max_requests=2))
    for _ in range(2):
        assert not send(egress, "GET", "http://example.com/")[0]
    with pytest.raises(ExecutionStopped) as info:
        send(egress, "GET", "http://example.com/")
    assert info.value.limit == "network"
    assert "more than 2 HTTP requests" in info.value.message


def test_large_request_bodies_and_malformed_requests_are_refused() -> None:
    egress = HttpEgress([AllowedDomain("example.com")], NetworkLimits(max_request_bytes=10))
    ok, error = send(egress, "POST", "http://example.com/", body=b"x" * 11)
    assert not ok and "more than NetworkLimits.max_request_bytes=10" in error["message"]
    ok, payload = egress.request("not json", deadline=time.monotonic() + 5)
    assert not ok and "malformed" in json.loads(payload)["message"]


def test_cancel_aborts_a_request_in_flight(http_server: Any) -> None:
    egress = HttpEgress([AllowedDomain(http_server.origin)])
    result: list[Any] = []
    worker = threading.Thread(
        target=lambda: result.append(send(egress, "GET", http_server.url("/slow?s=5")))
    )
    worker.start()
    while not http_server.hits:
        time.sleep(0.01)
    egress.cancel()
    worker.join(timeout=3)
    assert not worker.is_alive()
    ok, error = result[0]
    assert not ok and error["kind"] == "timeout"


@pytest.mark.parametrize("timeout", ["1" + "0" * 400, "1e400", "NaN", "0", "-1", "true", '"3"'])
def test_any_timeout_the_sandbox_sends_is_an_answer_never_a_host_failure(
    http_server: Any, timeout: str
) -> None:
    # 10**400 reached float() on the host: OverflowError, which ended the execution.
    egress = HttpEgress([AllowedDomain(http_server.origin)], NetworkLimits(timeout=5))
    text = f'{{"method": "GET", "url": "{http_server.url("/")}", "timeout": {timeout}}}'
    ok, payload = egress.request(text, deadline=time.monotonic() + 30)
    if timeout.startswith("1"):  # longer than NetworkLimits.timeout: that limit
        assert ok, payload
    else:
        assert not ok and json.loads(payload)["kind"] == "error", payload
