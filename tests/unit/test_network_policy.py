"""The allow-list as configured and matched: patterns, shorthands, what each rule allows."""

from __future__ import annotations

import ast
import re

import pytest

from codeact import AllowedDomain, CodeAct, ConfigurationError, MockBackend, NetworkLimits
from codeact.policy.network import find_rule, to_allowed_domain
from codeact.policy.urls import TargetError, parse_target


def allowed(rules: list[AllowedDomain], method: str, url: str) -> bool:
    rule, _ = find_rule(rules, method, parse_target(url))
    return rule is not None


def why(rules: list[AllowedDomain], method: str, url: str) -> str:
    rule, reason = find_rule(rules, method, parse_target(url))
    assert rule is None
    return reason


def test_shorthands() -> None:
    assert to_allowed_domain("api.github.com").methods is None
    assert to_allowed_domain(("internal.example.com", "GET")).methods == ("GET",)
    assert to_allowed_domain(("x.example.com", ["get", "post"])).methods == ("GET", "POST")
    assert to_allowed_domain(("x.example.com", "GET,POST")).methods == ("GET", "POST")
    rule = AllowedDomain("*.example.org", methods=("GET", "POST"))
    assert to_allowed_domain(rule) is rule
    assert repr(rule) == "AllowedDomain('*.example.org', methods=('GET', 'POST'))"


def test_a_bare_host_allows_every_method_on_the_default_ports_of_http_and_https() -> None:
    rules = [AllowedDomain("api.github.com")]
    for method in ("GET", "POST", "DELETE"):
        assert allowed(rules, method, "https://api.github.com/repos")
    assert allowed(rules, "GET", "http://API.GitHub.com./")  # case and trailing dot
    assert "allows only the default port (https: 443)" in why(
        rules, "GET", "https://api.github.com:8443/"
    )
    assert "no allowed_domains rule for evil.example" in why(rules, "GET", "https://evil.example/")


def test_refusal_names_the_missing_rule_and_how_to_add_it() -> None:
    assert why([], "GET", "https://evil.example/") == (
        "GET https://evil.example/ is not allowed: no allowed_domains rule for evil.example; "
        "allow it with allowed_domains=['evil.example']"
    )
    message = why(
        [AllowedDomain("api.example.com", methods="GET")], "POST", "https://api.example.com/x"
    )
    assert message == (
        "POST https://api.example.com/x is not allowed: the rule 'api.example.com' allows only "
        "GET; to allow it, add allowed_domains=[('https://api.example.com', 'POST')]"
    )


def test_wildcards_match_subdomains_only_where_written() -> None:
    rules = [AllowedDomain("*.example.org")]
    assert allowed(rules, "GET", "https://a.example.org/")
    assert allowed(rules, "GET", "https://a.b.example.org/")
    assert not allowed(rules, "GET", "https://example.org/")
    assert not allowed(rules, "GET", "https://badexample.org/")
    assert not allowed(rules, "GET", "https://example.org.evil.com/")
    assert not allowed([AllowedDomain("example.org")], "GET", "https://a.example.org/")


def test_scheme_port_and_path_prefix_from_the_pattern() -> None:
    rule = AllowedDomain("https://api.example.com:8443/v1/")
    assert (rule.schemes, rule.ports, rule.path_prefix) == (("https",), (8443,), "/v1")
    assert allowed([rule], "GET", "https://api.example.com:8443/v1")
    assert allowed([rule], "GET", "https://api.example.com:8443/v1/users?x=1")
    assert "allows only paths under /v1" in why([rule], "GET", "https://api.example.com:8443/v10")
    assert "allows only https" in why([rule], "GET", "http://api.example.com:8443/v1/")
    assert "allows only port 8443" in why([rule], "GET", "https://api.example.com/v1/")
    assert rule.describe() == "https://api.example.com:8443/v1 (any method)"


def test_keyword_forms() -> None:
    rule = AllowedDomain("127.0.0.1", methods="get", schemes="http", ports=[8080, 8081])
    assert allowed([rule], "GET", "http://127.0.0.1:8081/")
    assert not allowed([rule], "GET", "https://127.0.0.1:8081/")
    assert rule.describe() == "http://127.0.0.1:8080,8081 (GET)"
    assert AllowedDomain("[::1]:8080").host == "::1"
    assert allowed([AllowedDomain("[::1]:8080")], "GET", "http://[::1]:8080/")


def test_non_ascii_hosts_are_compared_in_idna() -> None:
    rule = AllowedDomain("bücher.example")
    assert rule.host == "xn--bcher-kva.example"
    assert allowed([rule], "GET", "https://xn--bcher-kva.example/")
    assert allowed([rule], "GET", "https://BÜCHER.example/")


@pytest.mark.parametrize(
    ("pattern", "kwargs", "message"),
    [
        ("*", {}, "allowing every host is not supported"),
        ("ex*.com", {}, "a wildcard may only be the whole first label"),
        ("a.*.com", {}, "a wildcard may only be the whole first label"),
        ("*.10.0.0.1", {}, "wildcards apply to names, not IPs"),
        # Not "every host", as for a server's bind address: connecting to it reaches here.
        ("0.0.0.0", {}, "0.0.0.0 is the unspecified address"),
        ("http://[::]:8080", {}, ":: is the unspecified address"),
        ("0", {}, "0.0.0.0 is the unspecified address"),
        ("256.1", {}, "is not a valid host name or IP address"),
        ("ftp://files.example.com", {}, "only http and https can be allowed"),
        ("api.example.com/x?y=1", {}, "without query"),
        ("user@api.example.com", {}, "without query, fragment or credentials"),
        ("api.example.com:99999", {}, "port must be a number from 1 to 65535"),
        ("bad host", {}, "without query"),
        ("bad_host!.com", {}, "is not a valid host name"),
        ("", {}, "non-empty str"),
        ("api.example.com", {"methods": "GE T"}, "is not an HTTP method"),
        ("api.example.com", {"methods": ()}, "give at least one method"),
        ("api.example.com", {"ports": [0]}, "ports must be numbers from 1 to 65535"),
        ("api.example.com", {"schemes": "ftp"}, "schemes must be 'http' or 'https'"),
        ("https://api.example.com", {"schemes": "http"}, "give the scheme only once"),
        ("api.example.com:1", {"ports": 2}, "give the port only once"),
        ("api.example.com", {"path_prefix": "v1"}, "the path prefix must start with '/'"),
        ("api.example.com", {"path_prefix": "/v1/../admin"}, "no '.' or '..' segments"),
    ],
)
def test_bad_patterns_say_what_is_wrong(
    pattern: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        AllowedDomain(pattern, **kwargs)  # type: ignore[arg-type]


def test_a_rule_that_spells_an_ipv4_address_as_numbers_is_refused() -> None:
    # 127.1, 2130706433 and 0x7f.0.0.1 all connect to 127.0.0.1 (inet_aton, browsers). A
    # request must write the address out (the conformance suite refuses such URLs), so a
    # rule must too, and says which address it reads as.
    for spelling in ("127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1"):
        with pytest.raises(ConfigurationError, match=r"reads as the IPv4 address 127\.0\.0\.1"):
            AllowedDomain(spelling)
    assert AllowedDomain("127.0.0.1").host == "127.0.0.1"
    assert AllowedDomain("0x.example").host == "0x.example"  # not a number: a name
    assert AllowedDomain("example.123").host == "example.123"
    assert not allowed([AllowedDomain("127.0.0.1:8080")], "GET", "http://127.1:8080/")


def test_an_ipv6_zone_id_is_no_host_and_wildcards_match_only_names() -> None:
    # ipaddress keeps a zone id ("%...") in the address it reads, so a literal whose zone
    # ended in a rule's domain matched "*.example.org" and passed as a public address.
    url = "http://[2606:4700:4700::1111%25.example.org]/"
    with pytest.raises(TargetError, match="zone id"):
        parse_target(url)
    with pytest.raises(ConfigurationError):
        AllowedDomain("[fe80::1%eth0]")
    rule = AllowedDomain("*.example.org")
    assert rule.matches_host("api.example.org")
    assert not rule.matches_host("2606:4700:4700::1111%.example.org")


def test_bad_shorthands() -> None:
    with pytest.raises(ConfigurationError, match="cannot use 42 as a rule"):
        to_allowed_domain(42)
    with pytest.raises(ConfigurationError, match="cannot use"):
        to_allowed_domain(("api.example.com", 5))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("https://user:pw@example.com/", "credentials in URLs are not supported"),
        ("https://example.com@evil.com/", "credentials in URLs are not supported"),
        ("https://example.com/a/../b", "'.' or '..' segments"),
        ("https://example.com/a/%2e%2e/b", "'.' or '..' segments"),
        ("https://example.com\\@evil.com/", "backslashes"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com:notaport/", "malformed"),
        ("https:///path", "no host"),
        ("/relative", "only http and https"),
    ],
)
def test_unusual_urls_are_refused_before_any_rule(url: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        parse_target(url)


def test_an_exact_rule_is_preferred_when_both_match() -> None:
    rules = [AllowedDomain("*.example.org"), AllowedDomain("api.example.org")]
    rule, _ = find_rule(rules, "GET", parse_target("https://api.example.org/"))
    assert rule is rules[1] and rule.names_exactly("api.example.org")
    assert not rules[0].names_exactly("api.example.org")


def test_codeact_domain_management() -> None:
    ca = CodeAct(
        backend=MockBackend(lambda code, call_tool: None),
        allowed_domains=["api.github.com", ("internal.example.com", "GET")],
    )
    ca.add_allowed_domains(AllowedDomain("*.example.org", methods=("GET", "POST")))
    ca.add_allowed_domains(["a.example.com", ("b.example.com", "PUT")])
    assert [d.pattern for d in ca.get_allowed_domains()] == [
        "api.github.com",
        "internal.example.com",
        "*.example.org",
        "a.example.com",
        "b.example.com",
    ]
    assert [d.pattern for d in ca.remove_allowed_domain("*.example.org")] == ["*.example.org"]
    with pytest.raises(ConfigurationError, match=r"no allowed domain 'nope\.com'"):
        ca.remove_allowed_domain("nope.com")
    ca.clear_allowed_domains()
    assert ca.get_allowed_domains() == []


def test_network_limits_defaults_and_checks() -> None:
    limits = NetworkLimits()
    assert (limits.max_requests, limits.max_response_bytes, limits.timeout) == (50, 10 << 20, 15.0)
    assert (limits.max_request_bytes, limits.max_redirects) == (10 << 20, 5)
    with pytest.raises(ConfigurationError, match=r"NetworkLimits\.timeout must be a number"):
        NetworkLimits(timeout=0)
    with pytest.raises(ConfigurationError, match=r"NetworkLimits\.max_requests must be a whole"):
        NetworkLimits(max_requests=True)


REFUSED = [
    ([], "GET", "http://127.0.0.1:8080/x"),  # was: allowed_domains=['127.0.0.1'] (port 80 only)
    ([AllowedDomain("127.0.0.1")], "GET", "http://127.0.0.1:8080/x"),
    ([AllowedDomain("api.example.com", methods="GET")], "POST", "https://api.example.com/x"),
    ([], "GET", "http://[::1]:9000/"),
    ([], "PUT", "https://evil.example/"),
    ([AllowedDomain("https://api.example.com/v1")], "GET", "https://api.example.com/v2"),
]


@pytest.mark.parametrize(("rules", "method", "url"), REFUSED)
def test_the_rule_a_refusal_suggests_allows_the_request(
    rules: list[AllowedDomain], method: str, url: str
) -> None:
    message = why(rules, method, url)
    suggested = re.search(r"allowed_domains=\[(.*)\]$", message)
    assert suggested is not None, message
    rule = to_allowed_domain(ast.literal_eval(suggested.group(1)))
    assert allowed([*rules, rule], method, url), message


def test_an_unknown_method_is_allowed_with_a_warning_naming_it() -> None:
    with pytest.warns(UserWarning, match=r"'GTE' is not a standard HTTP method"):
        rule = AllowedDomain("api.example.com", methods="GTE")
    assert rule.methods == ("GTE",)  # extension methods exist: allowed, only told
    with pytest.warns(UserWarning, match="'FROB'"):
        to_allowed_domain(("api.example.com", "GET,frob"))


@pytest.mark.filterwarnings("error")
def test_standard_and_webdav_methods_are_taken_silently() -> None:
    rule = AllowedDomain("dav.example.com", methods="get,HEAD,Post,PUT,PATCH,DELETE,OPTIONS")
    assert rule.methods == ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    AllowedDomain("dav.example.com", methods=("PROPFIND", "MKCOL", "COPY", "MOVE", "QUERY"))
