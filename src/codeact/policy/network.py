"""The HTTP allow-list: `AllowedDomain` rules, `NetworkLimits`, and the pure matching of a
request's target (parsed and checked by `codeact.policy.urls`) against them.

A program has no network. Each rule grants HTTP(S) requests to one host (or, where a wildcard
is written, to its subdomains), optionally narrowed to methods, a scheme, ports and a path
prefix. `CodeAct(allowed_domains=[...])` also takes the shorthands ``"api.github.com"`` (every
method) and ``("internal.example.com", "GET")``. The host enforces the rules on every request
and every redirect hop (see `codeact.bridge.http_egress`); this module only decides what a
rule permits.

Patterns: ``api.github.com``; ``*.example.org`` (any subdomain, at any depth, not
``example.org`` itself); with a scheme, port or path prefix as in a URL:
``https://api.example.com:8443/v1/``. Without a port, a rule allows the scheme's default
port (80 for http, 443 for https); without a scheme, both http and https.
"""

from __future__ import annotations

import ipaddress
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias, Union

from ..errors import ConfigurationError
from .urls import DEFAULT_PORTS, Target, is_address, normalize_host, numeric_ipv4

__all__ = [
    "KNOWN_METHODS",
    "AllowedDomain",
    "DomainInput",
    "NetworkLimits",
    "find_rule",
    "to_allowed_domain",
]

#: What `allowed_domains=[...]` accepts: a rule, a pattern, or (pattern, methods).
DomainInput: TypeAlias = Union["AllowedDomain", str, tuple[str, object]]

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

#: What servers read into a path differently than we do: path parameters (Tomcat, Spring:
#: ``/public/..;/admin``), encoded slashes, backslashes, dots and percents (``%2f``, ``%5c``,
#: ``%2e``, ``%25`` for double encoding). A rule with a path prefix refuses these.
_AMBIGUOUS_PATH = re.compile(r"[;\\]|%(?:2[fFeE5]|5[cC])")
_MIB = 1024 * 1024


@dataclass(frozen=True)
class NetworkLimits:
    """Limits on a program's HTTP requests (used only when some domain is allowed).

    ``max_requests`` (50): requests per execution; the one past it stops the program
    (limit ``network``). ``max_response_bytes`` (10 MiB) and ``max_request_bytes``
    (10 MiB): bodies; a larger response is cut off and the request fails in the program.
    ``timeout`` (15 s): the whole request, redirects included; never past the execution's
    own deadline. ``max_redirects`` (5): hops followed, each checked against the rules.
    """

    max_requests: int = 50
    max_response_bytes: int = 10 * _MIB
    max_request_bytes: int = 10 * _MIB
    timeout: float = 15.0
    max_redirects: int = 5

    def __post_init__(self) -> None:
        for name in ("max_requests", "max_response_bytes", "max_request_bytes", "max_redirects"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(
                    f"NetworkLimits.{name} must be a whole number >= 0, got {value!r}"
                )
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.001 <= t <= 3600:
            raise ConfigurationError(
                f"NetworkLimits.timeout must be a number of seconds from 0.001 to 3600, got {t!r}"
            )


@dataclass(frozen=True, init=False)
class AllowedDomain:
    """One allow-list rule: HTTP requests the program may send.

    Args:
        pattern: A host (``api.github.com``), a wildcard (``*.example.org``), an IP address,
            or a URL prefix (``https://api.example.com:8443/v1/``) that also fixes the
            scheme, port and path prefix.
        methods: Allowed methods (``"GET"``, ``("GET", "POST")``, ``"GET,POST"``);
            default: all.
        schemes: ``("https",)`` to refuse plain http; default both (or the pattern's).
        ports: Allowed ports; default the scheme's standard port (or the pattern's).
        path_prefix: Only paths equal to it or below it (``/v1`` allows ``/v1/users``).

    Loopback, private, link-local, CGNAT and cloud-metadata addresses are reached only
    through a rule that names the host exactly (``AllowedDomain("localhost")``), never
    through a wildcard, whatever a DNS answer says.
    """

    pattern: str
    host: str
    methods: tuple[str, ...] | None
    schemes: tuple[str, ...]
    ports: tuple[int, ...] | None
    path_prefix: str

    def __init__(
        self,
        pattern: str,
        *,
        methods: str | Iterable[str] | None = None,
        schemes: str | Iterable[str] | None = None,
        ports: int | Iterable[int] | None = None,
        path_prefix: str | None = None,
    ) -> None:
        if not isinstance(pattern, str) or not pattern.strip():
            raise ConfigurationError(f"an allowed domain must be a non-empty str, got {pattern!r}")
        p_scheme, p_host, p_port, p_path = _split_pattern(pattern.strip())
        if p_scheme and schemes is not None:
            raise ConfigurationError(f"allowed domain {pattern!r}: give the scheme only once")
        if p_port is not None and ports is not None:
            raise ConfigurationError(f"allowed domain {pattern!r}: give the port only once")
        if p_path and path_prefix is not None:
            raise ConfigurationError(f"allowed domain {pattern!r}: give the path prefix only once")
        set_ = object.__setattr__
        set_(self, "pattern", pattern.strip())
        set_(self, "host", _normalize_host_pattern(p_host, pattern))
        set_(self, "methods", _methods(methods, pattern))
        set_(self, "schemes", _schemes((p_scheme,) if p_scheme else schemes, pattern))
        set_(self, "ports", _ports((p_port,) if p_port is not None else ports, pattern))
        set_(self, "path_prefix", _path_prefix(p_path or path_prefix or "", pattern))

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*.")

    def matches_host(self, host: str) -> bool:
        if self.wildcard:  # names only: never an address, whatever it ends with
            return (
                host.endswith(self.host[1:])
                and len(host) > len(self.host) - 1
                and not is_address(host)
            )
        return host == self.host

    def names_exactly(self, host: str) -> bool:
        """True when this rule lists `host` by its exact name (no wildcard)."""
        return not self.wildcard and host == self.host

    def refusal(self, method: str, target: Target) -> str | None:
        """Why this rule (whose host matches) does not allow the request; None if it does."""
        if self.methods is not None and method not in self.methods:
            return f"allows only {', '.join(self.methods)}"
        if target.scheme not in self.schemes:
            return f"allows only {' and '.join(self.schemes)}"
        if self.ports is None:
            if target.port != DEFAULT_PORTS[target.scheme]:
                default = DEFAULT_PORTS[target.scheme]
                return f"allows only the default port ({target.scheme}: {default})"
        elif target.port not in self.ports:
            return f"allows only port {', '.join(map(str, self.ports))}"
        if self.path_prefix and _AMBIGUOUS_PATH.search(target.path):
            return (
                f"allows only paths under {self.path_prefix}, and refuses ';', backslashes "
                "and encoded '/', '\\', '.' or '%' in them (a server may read such a path as "
                "one outside the prefix)"
            )
        if self.path_prefix and not _under(target.path, self.path_prefix):
            return f"allows only paths under {self.path_prefix}"
        return None

    def describe(self) -> str:
        """How the model is told about it: ``*.example.org (GET, POST)``."""
        where = self.host
        if self.ports is not None:
            where += ":" + ",".join(map(str, self.ports))
        if len(self.schemes) == 1:
            where = f"{self.schemes[0]}://{where}"
        where += self.path_prefix
        return f"{where} ({', '.join(self.methods) if self.methods else 'any method'})"

    def __repr__(self) -> str:
        extra = f", methods={self.methods!r}" if self.methods else ""
        return f"AllowedDomain({self.pattern!r}{extra})"


def to_allowed_domain(item: object) -> AllowedDomain:
    """An `AllowedDomain` from any accepted shorthand (see `DomainInput`)."""
    if isinstance(item, AllowedDomain):
        return item
    if isinstance(item, str):
        return AllowedDomain(item)
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        methods = item[1]
        if isinstance(methods, str) or (
            isinstance(methods, (tuple, list)) and all(isinstance(m, str) for m in methods)
        ):
            return AllowedDomain(item[0], methods=methods)
    raise ConfigurationError(
        f"allowed_domains: cannot use {item!r} as a rule; give a host ('api.example.com'), "
        "a (host, 'GET') pair, or AllowedDomain('*.example.org', methods=('GET', 'POST'))"
    )


def find_rule(
    rules: Iterable[AllowedDomain], method: str, target: Target
) -> tuple[AllowedDomain | None, str]:
    """The rule that allows `method` to `target` (preferring one that names the host
    exactly), or None and why not, phrased for the program and its developer."""
    reasons: list[str] = []
    allowed: list[AllowedDomain] = []
    for rule in rules:
        if not rule.matches_host(target.host):
            continue
        why = rule.refusal(method, target)
        if why is None:
            allowed.append(rule)
        else:
            reasons.append(f"the rule {rule.pattern!r} {why}")
    if allowed:
        exact = [r for r in allowed if r.names_exactly(target.host)]
        return (exact or allowed)[0], ""
    url = target.origin + target.path
    if not reasons:
        # The rule suggested must allow the request: with its port when it is not the default.
        host = f"[{target.host}]" if ":" in target.host else target.host
        if target.port != DEFAULT_PORTS[target.scheme]:
            host = f"{host}:{target.port}"
        return None, (
            f"{method} {url} is not allowed: no allowed_domains rule for {target.host}; "
            f"allow it with allowed_domains=[{host!r}]"
        )
    suggestion = f"({target.origin!r}, {method!r})"  # the (host, method) form: also a CLI flag
    return None, (
        f"{method} {url} is not allowed: "
        + "; ".join(reasons)
        + f"; to allow it, add allowed_domains=[{suggestion}]"
    )


# -- parsing helpers -------------------------------------------------------------------------
def _split_pattern(pattern: str) -> tuple[str, str, int | None, str]:
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


def _normalize_host_pattern(host: str, pattern: str) -> str:
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


def _methods(methods: object, pattern: str) -> tuple[str, ...] | None:
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


def _schemes(schemes: object, pattern: str) -> tuple[str, ...]:
    if schemes is None:
        return ("http", "https")
    items = (
        (schemes,) if isinstance(schemes, str) else tuple(_iterable(schemes, "schemes", pattern))
    )
    out = tuple(dict.fromkeys(str(s).lower() for s in items))
    if not out or any(s not in DEFAULT_PORTS for s in out):
        raise ConfigurationError(f"allowed domain {pattern!r}: schemes must be 'http' or 'https'")
    return out


def _ports(ports: object, pattern: str) -> tuple[int, ...] | None:
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


def _path_prefix(prefix: str, pattern: str) -> str:
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


def _under(path: str, prefix: str) -> bool:
    if _AMBIGUOUS_PATH.search(path):
        return False  # a server may read this path as one outside the prefix
    return path == prefix or path.startswith(prefix + "/")
