"""How an allow-list rule is written: parsing and checking an `AllowedDomain`'s pattern and
its methods, schemes, ports and path prefix (`codeact.policy.network` holds the rule itself).

Each function raises `ConfigurationError` with a message naming the pattern the rule was
written with, or returns the value the rule keeps: lower-case schemes, the host as requests
are compared with it (lower case, IDNA, an address in its standard form), upper-case methods,
ports, and a path prefix without its trailing slash.
"""

from __future__ import annotations

import ipaddress
import re
import warnings
from collections.abc import Iterable

from ..errors import ConfigurationError
from .urls import DEFAULT_PORTS, normalize_host, numeric_ipv4

__all__ = [
    "KNOWN_METHODS",
    "host_pattern",
    "parse_methods",
    "parse_path_prefix",
    "parse_ports",
    "parse_schemes",
    "split_pattern",
]

_METHOD = re.compile(r"^[A-Z]{1,20}$")
#: Methods a rule names without a warning: RFC 9110's, PATCH, and WebDAV's. Any other name
#: is allowed too (HTTP has extension methods), with a warning, since it is most often a typo
#: ("GTE") that would leave the rule allowing nothing the program sends.
KNOWN_METHODS = frozenset(
    [
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "CONNECT",
        "OPTIONS",
        "TRACE",
        "PATCH",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
        "REPORT",
        "SEARCH",
        "QUERY",
    ]
)


def split_pattern(pattern: str) -> tuple[str, str, int | None, str]:
    scheme = ""
    rest = pattern
    if "://" in pattern:
        scheme, rest = pattern.split("://", 1)
        scheme = scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ConfigurationError(
                f"allowed domain {pattern!r}: only http and https can be allowed, not {scheme!r}"
            )
    if any(c in rest for c in "?#@ \t"):
        raise ConfigurationError(
            f"allowed domain {pattern!r}: give a host, optionally with a scheme, port and path "
            "prefix (https://api.example.com:8443/v1), without query, fragment or credentials"
        )
    hostport, slash, path = rest.partition("/")
    path = slash + path if slash else ""
    port: int | None = None
    host = hostport
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else None
        if tail and port_text is None:
            raise ConfigurationError(f"allowed domain {pattern!r}: malformed IPv6 address")
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    else:
        port_text = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigurationError(
                f"allowed domain {pattern!r}: the port must be a number from 1 to 65535"
            )
        port = int(port_text)
    return scheme, host, port, path


def host_pattern(host: str, pattern: str) -> str:
    wildcard = host.startswith("*.")
    bare = host[2:] if wildcard else host
    if "*" in bare:
        raise ConfigurationError(
            f"allowed domain {pattern!r}: a wildcard may only be the whole first label "
            "('*.example.org'); list other hosts one by one"
            if host != "*"
            else f"allowed domain {pattern!r}: allowing every host is not supported; "
            "list the hosts the program needs, or '*.example.org' for a domain's subdomains"
        )
    try:
        normalized = normalize_host(bare)
        spelled = numeric_ipv4(normalized)
    except (ValueError, UnicodeError):
        raise ConfigurationError(
            f"allowed domain {pattern!r}: {bare!r} is not a valid host name or IP address"
        ) from None
    if spelled not in (None, normalized) and not ipaddress.ip_address(spelled).is_unspecified:
        # Resolvers read it as that address; requests must write the address out too.
        raise ConfigurationError(
            f"allowed domain {pattern!r}: {bare!r} reads as the IPv4 address {spelled}; "
            f"write {spelled!r}"
        )
    normalized = spelled or normalized
    try:
        ip = ipaddress.ip_address(normalized)
    except ValueError:
        return "*." + normalized if wildcard else normalized
    if wildcard:
        raise ConfigurationError(f"allowed domain {pattern!r}: wildcards apply to names, not IPs")
    if ip.is_unspecified:
        # Not "any host", as when a server binds it: connecting to it reaches this machine.
        raise ConfigurationError(
            f"allowed domain {pattern!r}: {normalized} is the unspecified address, which "
            "reaches this machine's own services, not every host; allowing every host is not "
            "supported: list the hosts the program needs (127.0.0.1 for a local server)"
        )
    return normalized


def parse_methods(methods: object, pattern: str) -> tuple[str, ...] | None:
    if methods is None:
        return None
    items = methods.split(",") if isinstance(methods, str) else methods
    if not isinstance(items, Iterable):
        raise ConfigurationError(f"allowed domain {pattern!r}: methods must be names like 'GET'")
    names: list[str] = []
    for item in items:
        name = item.strip().upper() if isinstance(item, str) else ""
        if name == "*":
            return None
        if not _METHOD.match(name):
            raise ConfigurationError(
                f"allowed domain {pattern!r}: {item!r} is not an HTTP method; "
                "use names like 'GET', 'POST' or 'GET,POST'"
            )
        if name not in names:
            names.append(name)
        if name not in KNOWN_METHODS:
            warnings.warn(
                f"allowed domain {pattern!r}: {name!r} is not a standard HTTP method (GET, "
                "HEAD, POST, PUT, PATCH, DELETE, OPTIONS, ...); the rule allows only requests "
                "that use it",
                UserWarning,
                stacklevel=4,
            )
    if not names:
        raise ConfigurationError(f"allowed domain {pattern!r}: give at least one method")
    return tuple(names)


def parse_schemes(schemes: object, pattern: str) -> tuple[str, ...]:
    if schemes is None:
        return ("http", "https")
    items = (
        (schemes,) if isinstance(schemes, str) else tuple(_iterable(schemes, "schemes", pattern))
    )
    out = tuple(dict.fromkeys(str(s).lower() for s in items))
    if not out or any(s not in DEFAULT_PORTS for s in out):
        raise ConfigurationError(f"allowed domain {pattern!r}: schemes must be 'http' or 'https'")
    return out


def parse_ports(ports: object, pattern: str) -> tuple[int, ...] | None:
    if ports is None:
        return None
    raw = (ports,) if isinstance(ports, int) else tuple(_iterable(ports, "ports", pattern))
    items: list[int] = []
    for port in raw:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError(
                f"allowed domain {pattern!r}: ports must be numbers from 1 to 65535, got {port!r}"
            )
        items.append(port)
    if not items:
        raise ConfigurationError(f"allowed domain {pattern!r}: give at least one port")
    return tuple(dict.fromkeys(items))


def _iterable(value: object, what: str, pattern: str) -> Iterable[object]:
    if not isinstance(value, Iterable):
        raise ConfigurationError(f"allowed domain {pattern!r}: {what} must be a list")
    return value


def parse_path_prefix(prefix: str, pattern: str) -> str:
    if not isinstance(prefix, str):
        raise ConfigurationError(f"allowed domain {pattern!r}: path_prefix must be a str")
    if prefix in ("", "/"):
        return ""
    if not prefix.startswith("/") or any(seg in (".", "..") for seg in prefix.split("/")):
        raise ConfigurationError(
            f"allowed domain {pattern!r}: the path prefix must start with '/' and contain no "
            f"'.' or '..' segments, got {prefix!r}"
        )
    return prefix.rstrip("/")
