"""Header and path tricks a program sends through its sandbox's HTTP, against a raw server on
127.0.0.1 that records the bytes it received: a header name with a trailing blank or tab, a
value that smuggles a second header (CR, LF, obs-fold, NUL), credentials of any spelling
across a redirect, and paths a server reads as outside a rule's prefix. On every backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codeact import AllowedDomain, Limits

TRICKS = [
    ("Host ", "evil.example"),
    ("Transfer-Encoding\t", "chunked"),
    ("Content-Length ", "5"),
    ("X-A", "1\r\nHost: evil.example"),
    ("X-A", "1\r\n Host: evil.example"),
    ("X-A", "1\x00Host: evil.example"),
    ("authorization ", "Bearer s3cret"),
    ("Cookie\t", "id=s3cret"),
]

HEADER_ATTEMPT = """
import json
for name, value in json.loads(TRICKS):
    try:
        r = http_request("GET", URL + "/h", [(name, value)])
        print("SENT", repr(name), r.status)
    except Exception as e:
        print("refused", repr(name), type(e).__name__)
"""


async def test_header_tricks_never_reach_the_server(
    make_codeact: Callable[..., Any], raw_server: Any
) -> None:
    import json

    codeact = make_codeact(
        allowed_domains=[AllowedDomain(raw_server.origin)],
        limits=Limits(wall_time=20, memory_mb=128),
    )
    code = f"TRICKS = {json.dumps(json.dumps(TRICKS))}\nURL = {raw_server.origin!r}\n"
    result = await codeact.execute(code + HEADER_ATTEMPT)
    assert result.ok, result.error
    assert "SENT" not in result.stdout, result.stdout
    assert result.stdout.count("refused") == len(TRICKS)
    assert raw_server.heads == []


async def test_credentials_of_odd_spelling_do_not_follow_a_redirect(
    make_codeact: Callable[..., Any], raw_server: Any
) -> None:
    other = raw_server.__class__()
    try:
        codeact = make_codeact(
            allowed_domains=[AllowedDomain(raw_server.origin), AllowedDomain(other.origin)]
        )
        code = (
            f"r = http_request('GET', {raw_server.origin!r} + '/r?to=' + {other.origin!r} + '/x',"
            " [('AUTHORIZATION', 'Bearer s3cret'), ('cOoKiE', 'id=s3cret')])\nr.status"
        )
        result = await codeact.execute(code)
        assert result.ok and result.value == 200, result.error
        assert len(other.heads) == 1 and b"s3cret" not in other.heads[0]
    finally:
        other.close()


PATHS = ["/public/..;/admin", "/public/..%5cadmin", "/public/%2e%2e/admin", "/public%2f..%2fadmin"]


async def test_path_tricks_never_pass_a_prefix_rule(
    make_codeact: Callable[..., Any], raw_server: Any
) -> None:
    codeact = make_codeact(allowed_domains=[AllowedDomain(raw_server.origin + "/public")])
    code = (
        f"for p in {PATHS!r}:\n"
        "    try:\n"
        f"        http_get({raw_server.origin!r} + p)\n"
        "        print('SENT', p)\n"
        "    except Exception as e:\n"
        "        print('refused', p)\n"
        f"http_get({raw_server.origin!r} + '/public/ok.json').status"
    )
    result = await codeact.execute(code)
    assert result.ok and result.value == 200, result.error
    assert "SENT" not in result.stdout, result.stdout
    assert [h.split(b" ")[1] for h in raw_server.heads] == [b"/public/ok.json"]
