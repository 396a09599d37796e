"""`HttpEgress`: the only way a program reaches the network, checked on the host.

The sandbox has no sockets. Its ``http_request(...)`` becomes one host call that arrives
here, and every request is checked against the allow-list before anything is sent:

1. the URL: http(s) only, no credentials, no ``..`` in the path (`policy.urls`);
2. a rule must allow its scheme, host, port, path and method (`policy.network.find_rule`);
3. the host name is resolved once, here; if any address is loopback, private, link-local,
   CGNAT, multicast or cloud metadata, the request is refused unless a rule names that host
   exactly (a wildcard never unlocks internal addresses);
4. the connection goes to the address that was checked (no second DNS lookup, so a DNS
   answer that changes between check and use gets nowhere); TLS still verifies the name
   (`bridge.http_fetch`);
5. redirects are followed here, one hop at a time, and each hop goes through 1-4 again;
6. the response is cut off past `NetworkLimits.max_response_bytes`, and the whole request
   (redirects included) must finish within the program's own ``timeout=`` (when shorter),
   `NetworkLimits.timeout` and the execution's own deadline; a timeout says which ran out.

Requests go straight to the servers: the host's proxy settings are not used.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._nesting import loads_within
from ..policy.addresses import IPAddress, non_public_reason
from ..policy.headers import CREDENTIAL_HEADERS, HOST_SET_HEADERS, check_headers, normalized_name
from ..policy.network import AllowedDomain, NetworkLimits, allow_hint, find_rule
from ..policy.urls import MAX_URL_LENGTH, Target, TargetError, parse_target
from . import stops
from .dns import LookupRefused, Lookups, Resolver
from .http_fetch import Fetcher, FetchFailed, FetchTimedOut
from .protocol import Reply

__all__ = ["HttpEgress", "HttpRequestRecord", "Resolver"]

_REDIRECTS = (301, 302, 303, 307, 308)
_METHOD = re.compile(r"[A-Z]{1,20}")


@dataclass
class HttpRequestRecord:
    """One HTTP request a program made: where, how it ended, how long it took (ms)."""

    method: str
    url: str
    started_ms: float
    duration_ms: float = 0.0
    status: int | None = None
    outcome: str = "ok"  # "ok", "denied" or "error"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "started_ms": round(self.started_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "status": self.status,
            "outcome": self.outcome,
            "error": self.error,
        }


class _Refused(Exception):
    kind = "denied"


_REQUEST_SLACK = 1 << 20  # a request's URL, headers and JSON around its body


class HttpEgress:
    """Sends a program's HTTP requests that `rules` allow; refuses the rest with the reason.

    One per execution: it counts requests against `limits.max_requests` and keeps a record
    of each (`records`).
    """

    def __init__(
        self,
        rules: Sequence[AllowedDomain],
        limits: NetworkLimits | None = None,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.limits = limits or NetworkLimits()
        self.records: list[HttpRequestRecord] = []
        self._lookups = Lookups(resolver)  # this execution's own, bounded (bridge.dns)
        self._fetcher = Fetcher(self.limits, ssl_context)  # one exchange (bridge.http_fetch)
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._count = 0

    # -- the host call ---------------------------------------------------------------------
    def request(self, request_json: str, *, deadline: float) -> Reply:
        """Serve one ``http_request`` of the program (see `ToolChannel.http_request`)."""
        with self._lock:
            self._count += 1
            count = self._count
        if count > self.limits.max_requests:
            raise stops.stopping(stops.http_requests(self.limits))
        started = time.monotonic()
        record = HttpRequestRecord("?", "?", (started - self._t0) * 1000)
        self.records.append(record)
        try:
            method, url, headers, body, timeout = self._parse(request_json, record)
            until = min(deadline, started + min(timeout, self.limits.timeout))
            response = self._send(method, url, headers, body, until)
        except (_Refused, FetchFailed, FetchTimedOut) as exc:
            record.duration_ms = (time.monotonic() - started) * 1000
            record.outcome = "denied" if isinstance(exc, _Refused) else "error"
            message = str(exc)
            if isinstance(exc, FetchTimedOut):
                message = f"{message} ({self._which_time(timeout, started, deadline)})"
            record.error = message
            return False, json.dumps({"kind": exc.kind, "message": message})
        record.duration_ms = (time.monotonic() - started) * 1000
        record.status = response["status"]
        return True, json.dumps(response)

    def _which_time(self, timeout: float, started: float, deadline: float) -> str:
        """Which of a request's times ran out: the execution's, the program's own `timeout`
        (one shorter than `NetworkLimits.timeout`), or that limit."""
        if deadline < started + min(timeout, self.limits.timeout):
            return "the execution's wall time ran out"
        if timeout < self.limits.timeout:
            return f"the timeout={timeout:g}s the program passed ran out"
        return f"NetworkLimits.timeout={self.limits.timeout:g}s ran out"

    def cancel(self) -> None:
        """Abort a request in flight (the execution is being stopped)."""
        self._fetcher.cancel()
        self._lookups.cancel()

    # -- one request, redirects included ------------------------------------------------------
    def _parse(
        self, request_json: str, record: HttpRequestRecord
    ) -> tuple[str, str, list[tuple[str, str]], bytes | None, float]:
        # Size before parsing: the body travels base64-encoded, plus the URL and headers.
        if len(request_json) > self.limits.max_request_bytes * 4 // 3 + _REQUEST_SLACK:
            raise FetchFailed(
                "the HTTP request is larger than NetworkLimits.max_request_bytes="
                f"{self.limits.max_request_bytes} allows; send a smaller body"
            )
        try:
            data = loads_within(request_json)  # nested too deep: a ValueError
            method = str(data["method"]).upper()
            url = data["url"]
            raw_headers = data.get("headers") or []
            headers = [(str(k), str(v)) for k, v in raw_headers]
            body = base64.b64decode(data["body"]) if data.get("body") is not None else None
            timeout = self._timeout(data.get("timeout"))
        except (ValueError, TypeError, KeyError):
            raise FetchFailed("the sandbox sent a malformed HTTP request") from None
        if not isinstance(url, str) or not _METHOD.fullmatch(method):
            raise FetchFailed("an HTTP request needs a method such as 'GET' and a URL string")
        record.method, record.url = method, url[:MAX_URL_LENGTH]
        if len(url) > MAX_URL_LENGTH:
            # Before the URL is quoted anywhere: the record (kept with the result) and every
            # message would otherwise hold all of it, request after request.
            raise FetchFailed(
                f"cannot fetch {url[:200]!r}...: the URL has {len(url)} characters, more than "
                f"{MAX_URL_LENGTH} (codeact.policy.urls.MAX_URL_LENGTH); send large data in "
                "the request body"
            )
        problem = check_headers(headers)
        if problem is not None:
            raise FetchFailed(f"cannot send {method} {url[:200]}: {problem}")
        if body is not None and len(body) > self.limits.max_request_bytes:
            raise FetchFailed(
                f"the request body has {len(body)} bytes, more than "
                f"NetworkLimits.max_request_bytes={self.limits.max_request_bytes}"
            )
        return method, url, headers, body, max(0.001, timeout)

    def _timeout(self, value: object) -> float:
        """The request's own timeout: none (`NetworkLimits.timeout`), or a positive number of
        seconds, capped by that limit before float() (10**400 would overflow it: a host
        failure that ended the execution); anything else a TypeError or ValueError."""
        if value is None:
            return self.limits.timeout
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("timeout")
        if not value > 0:  # NaN too
            raise ValueError("timeout")
        return float(min(value, self.limits.timeout))

    def _send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        until: float,
    ) -> dict[str, Any]:
        headers = [(k, v) for k, v in headers if normalized_name(k) not in HOST_SET_HEADERS]
        via = ""
        for hop in range(self.limits.max_redirects + 1):
            try:
                target = parse_target(url)
            except TargetError as exc:
                raise FetchFailed(f"{via}cannot fetch {url!r}: {exc}") from None
            rule, why = find_rule(self.rules, method, target)
            if rule is None:
                raise _Refused(via + why)
            addresses = self._addresses(method, url, target, rule, until, via)
            status, reason, resp_headers, content = self._fetcher.fetch(
                target, addresses, method, url, headers, body, until
            )
            location = next((v for k, v in resp_headers if k.lower() == "location"), None)
            if status not in _REDIRECTS or location is None:
                return {
                    "status": status,
                    "reason": reason,
                    "url": url,
                    "headers": [[k, v] for k, v in resp_headers],
                    "body": base64.b64encode(content).decode("ascii"),
                }
            if hop == self.limits.max_redirects:
                break
            next_url = urllib.parse.urljoin(url, location)
            via = f"{method} {url} was redirected to {next_url}; "
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = [(k, v) for k, v in headers if normalized_name(k) != "content-type"]
            if _origin(next_url) != _origin(url):
                headers = [
                    (k, v) for k, v in headers if normalized_name(k) not in CREDENTIAL_HEADERS
                ]
            url = next_url
        raise FetchFailed(
            f"{via}more than {self.limits.max_redirects} redirects "
            f"(NetworkLimits.max_redirects={self.limits.max_redirects})"
        )

    def _addresses(
        self, method: str, url: str, target: Target, rule: AllowedDomain, until: float, via: str
    ) -> list[IPAddress]:
        try:
            addresses = [ipaddress.ip_address(target.host)]
        except ValueError:
            addresses = self._resolve(target, until, via)
        # Only a rule that names this host exactly AND allows this request unlocks internal
        # addresses (find_rule prefers such a rule when there is one).
        explicit = rule.names_exactly(target.host)
        for ip in addresses:
            reason = non_public_reason(ip)
            if reason is not None and not explicit:
                raise _Refused(
                    f"{via}{method} {url} is not allowed: {target.host} resolves to {ip}, "
                    f"{reason}; internal addresses are reached only when the host is listed "
                    f"by its exact name ({allow_hint(target.host)})"
                )
        return addresses

    def _resolve(self, target: Target, until: float, via: str) -> list[IPAddress]:
        try:
            names = self._lookups.resolve(target.host, target.port, until=until)
        except TimeoutError:
            raise FetchTimedOut(f"{via}looking up {target.host} timed out") from None
        except LookupRefused as exc:
            raise FetchFailed(f"{via}cannot resolve {target.host} now: {exc}") from None
        except OSError as exc:
            raise FetchFailed(f"{via}cannot resolve {target.host}: {exc}") from None
        try:
            addresses = [ipaddress.ip_address(name.split("%")[0]) for name in names]
        except ValueError:
            raise FetchFailed(f"{via}cannot resolve {target.host}: bad address") from None
        if not addresses:
            raise FetchFailed(f"{via}cannot resolve {target.host}: no addresses")
        return addresses


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port
