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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias, Union

from .._checks import short_repr
from ..errors import ConfigurationError
from .domain_patterns import (
    KNOWN_METHODS,
    host_pattern,
    parse_methods,
    parse_path_prefix,
    parse_ports,
    parse_schemes,
    split_pattern,
)
from .urls import DEFAULT_PORTS, Target, is_address

__all__ = [
    "KNOWN_METHODS",
    "AllowedDomain",
    "DomainInput",
    "NetworkLimits",
    "allow_hint",
    "find_rule",
    "hint_cli_flags",
    "to_allowed_domain",
]

#: What `allowed_domains=[...]` accepts: a rule, a pattern, or (pattern, methods).
DomainInput: TypeAlias = Union["AllowedDomain", str, tuple[str, object]]

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
                    f"NetworkLimits.{name} must be a whole number >= 0, got {short_repr(value)}"
                )
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.001 <= t <= 3600:
            raise ConfigurationError(
                "NetworkLimits.timeout must be a number of seconds from 0.001 to 3600, "
                f"got {short_repr(t)}"
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
        p_scheme, p_host, p_port, p_path = split_pattern(pattern.strip())
        if p_scheme and schemes is not None:
            raise ConfigurationError(f"allowed domain {pattern!r}: give the scheme only once")
        if p_port is not None and ports is not None:
            raise ConfigurationError(f"allowed domain {pattern!r}: give the port only once")
        if p_path and path_prefix is not None:
            raise ConfigurationError(f"allowed domain {pattern!r}: give the path prefix only once")
        set_ = object.__setattr__
        set_(self, "pattern", pattern.strip())
        set_(self, "host", host_pattern(p_host, pattern))
        set_(self, "methods", parse_methods(methods, pattern))
        set_(self, "schemes", parse_schemes((p_scheme,) if p_scheme else schemes, pattern))
        set_(self, "ports", parse_ports((p_port,) if p_port is not None else ports, pattern))
        set_(self, "path_prefix", parse_path_prefix(p_path or path_prefix or "", pattern))

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


#: Whose words a denial's hint is in: Python's (``allowed_domains=[...]``) or, in the
#: `codeact` command line (`hint_cli_flags`), its flag (``--allow-domain ...``).
_HINTS = {"cli": False}


def hint_cli_flags(on: bool = True) -> None:
    """Make denials in this process suggest ``--allow-domain`` (the command line's flag)."""
    _HINTS["cli"] = on


def allow_hint(pattern: str, method: str | None = None) -> str:
    """The setting that would allow `pattern` (and `method`): ``allowed_domains=['host']`` /
    ``allowed_domains=[('origin', 'POST')]``, or in the command line ``--allow-domain host`` /
    ``--allow-domain origin:POST``."""
    if _HINTS["cli"]:
        return f"--allow-domain {pattern}" + (f":{method}" if method else "")
    rule = f"({pattern!r}, {method!r})" if method else repr(pattern)
    return f"allowed_domains=[{rule}]"


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
        setting = "--allow-domain" if _HINTS["cli"] else "allowed_domains"
        return None, (
            f"{method} {url} is not allowed: no {setting} rule for {target.host}; "
            f"allow it with {allow_hint(host)}"
        )
    return None, (
        f"{method} {url} is not allowed: "
        + "; ".join(reasons)
        + f"; to allow it, add {allow_hint(target.origin, method)}"
    )


def _under(path: str, prefix: str) -> bool:
    if _AMBIGUOUS_PATH.search(path):
        return False  # a server may read this path as one outside the prefix
    return path == prefix or path.startswith(prefix + "/")
