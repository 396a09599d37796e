"""Which request headers a program may send, and how the host compares header names.

A program's headers reach real servers, so they are checked by the grammar servers parse,
not by what looks harmless: a name must be an RFC 9110 token (``Host `` with a trailing
blank or ``Transfer-Encoding\\t`` is not a name some other server reads as ``Host``: it is
refused), and a value must hold no CR, LF or NUL (no second header smuggled in, no
obs-fold continuation line) nor any other control character but the horizontal tab.

The headers the host sets itself or removes (`HOST_SET_HEADERS`, and `CREDENTIAL_HEADERS` on
a redirect to another origin) are matched on `normalized_name`, never on the name as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "CREDENTIAL_HEADERS",
    "HOST_SET_HEADERS",
    "MAX_HEADER_BYTES",
    "check_headers",
    "normalized_name",
]

#: Set by the host from the request itself; a program's own are dropped.
HOST_SET_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "trailer", "upgrade"}
)
#: Dropped when a redirect leads to another origin.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
#: All names and values of one request together (servers commonly refuse more than 8-16 KiB).
MAX_HEADER_BYTES = 64 * 1024

# RFC 9110 5.1: field-name = token; token = 1*tchar.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 5.5: field-value holds VCHAR, obs-text, SP and HTAB; no other control character.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def normalized_name(name: str) -> str:
    """The name as servers compare it: blanks around it removed, lowercased."""
    return name.strip(" \t\r\n\x00").lower()


def check_headers(headers: Iterable[tuple[str, str]]) -> str | None:
    """Why these headers cannot be sent, or None when every name and value is well formed."""
    total = 0
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            return (
                f"the header name {name!r} is not an HTTP token (RFC 9110: letters, digits "
                "and !#$%&'*+-.^_`|~, no spaces, tabs or colons)"
            )
        if _BAD_VALUE.search(value):
            return (
                f"the value of header {name!r} contains a line break, NUL or another control "
                "character; send it on one line"
            )
        total += len(name) + len(value)
        if total > MAX_HEADER_BYTES:
            return (
                f"the request's headers are larger than {MAX_HEADER_BYTES} characters "
                "(codeact.policy.headers.MAX_HEADER_BYTES)"
            )
    return None
