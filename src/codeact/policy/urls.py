"""The URL a program asks for, parsed and checked before any rule is consulted: `Target`,
`parse_target` and `TargetError`.

Whatever the allow-list says, a URL is refused when it is longer than `MAX_URL_LENGTH`, holds
spaces, control characters, backslashes or credentials, is not http(s), names an invalid
host, or has ``.`` or ``..`` segments in its path (also when percent-encoded). Which targets
a program may reach is decided by the rules in `codeact.policy.network`; the host sends the
request (see `codeact.bridge.http_egress`).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

__all__ = [
    "DEFAULT_PORTS",
    "MAX_URL_LENGTH",
    "Target",
    "TargetError",
    "is_address",
    "normalize_host",
    "numeric_ipv4",
    "parse_target",
]

DEFAULT_PORTS = {"http": 80, "https": 443}

#: The longest URL a program may request (characters). Servers commonly refuse more than
#: 8 KiB of request line; the cap also bounds the host's work on a hostile URL.
MAX_URL_LENGTH = 8192
#: Whitespace (any Unicode space), C0 controls, DEL and backslash: never in a URL we send.
_BAD_URL_CHAR = re.compile(r"[\s\x00-\x1f\x7f\\]")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


@dataclass(frozen=True)
class Target:
    """Where a request goes, as the allow-list sees it (host lowercased, port explicit)."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


class TargetError(ValueError):
    """A URL the sandbox may not use, whatever the rules say (the message says why)."""


def parse_target(url: str) -> Target:
    """Parse and check an absolute http(s) URL; raise `TargetError` for anything unusual.

    A URL longer than `MAX_URL_LENGTH` is refused before any other work; the checks are
    regular expressions and str methods (C speed), never a Python loop per character."""
    if not isinstance(url, str) or not url:
        raise TargetError("the URL must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise TargetError(
            f"the URL has {len(url)} characters, more than {MAX_URL_LENGTH} "
            "(codeact.policy.urls.MAX_URL_LENGTH); send large data in the request body"
        )
    if _BAD_URL_CHAR.search(url):
        raise TargetError("the URL contains spaces, control characters or backslashes")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"the URL is malformed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise TargetError(f"only http and https URLs can be fetched, not {scheme or 'this'!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetError("credentials in URLs are not supported; send an Authorization header")
    if not parts.hostname:
        raise TargetError("the URL has no host")
    try:
        host = normalize_host(parts.hostname)
    except ValueError as exc:
        raise TargetError(f"the URL's host is invalid ({exc})") from None
    path = parts.path or "/"
    if _dot_segment(path):
        raise TargetError("the URL's path contains '.' or '..' segments; write the path out")
    return Target(scheme, host, port if port is not None else DEFAULT_PORTS[scheme], path)


def normalize_host(host: str) -> str:
    """`host` lowercased, an IP address in its standard form. Other spellings of an IPv4
    address (``127.1``, ``2130706433``: `numeric_ipv4`) stay names, which only a rule naming
    them exactly would match, and rules refuse to."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise ValueError("empty host")
    if "%" in host:  # a zone id ("fe80::1%eth0"): ipaddress keeps it, and it is no name
        raise ValueError(f"{host!r} has an IPv6 zone id ('%...'); zone ids are not supported")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise ValueError(f"{host!r} is not a valid host name")
    return host


def is_address(host: str) -> bool:
    """Whether `host` (as `normalize_host` returns it) is an IP address or looks like one
    (a colon, a zone id): never a name a wildcard rule may match."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ":" in host or "%" in host
    return True


_NUMBER = re.compile(r"^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$")


def _number(part: str) -> int:
    if part.startswith("0x"):
        return int(part, 16)
    return int(part, 8) if part.startswith("0") else int(part)


def numeric_ipv4(host: str) -> str | None:
    """The IPv4 address a host made only of numbers stands for (1-4 parts, each decimal,
    octal with a leading 0 or hex with 0x, the last filling the bytes left, as inet_aton
    reads them), or None for a name. Numbers out of range are an error, not a name."""
    parts = host.split(".")
    if len(parts) > 4 or not all(_NUMBER.match(part) for part in parts):
        return None
    values = [_number(part) for part in parts]
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 256 ** (5 - len(values)):
        raise ValueError(f"{host!r} is a number out of range for an IPv4 address")
    address = last
    for index, value in enumerate(leading):
        address += value << (8 * (3 - index))
    return str(ipaddress.IPv4Address(address))


def _dot_segment(path: str) -> bool:
    """Whether a server could read `path` as going up or staying put: a ``.`` or ``..``
    segment, also when percent-encoded (once or twice), followed by path parameters
    (``..;x``) or separated by backslashes."""
    decoded = path
    for _ in range(3):  # %252e%252e -> %2e%2e -> ..
        if "%" not in decoded:
            break
        decoded = urllib.parse.unquote(decoded)
    segments = re.split(r"[/\\]", decoded)
    return any(segment.split(";", 1)[0] in (".", "..") for segment in segments)
