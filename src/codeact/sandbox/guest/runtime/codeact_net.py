"""HTTP for programs in the sandbox: http_request, http_get, http_post and urllib.request.

The sandbox has no sockets. Each request is one call to the host (through the backend's
``http_request`` host function), which checks it against the allow-list, sends it, and
returns the whole response; a refused request raises `NetworkDenied` with the host's reason.
`install()` also routes ``urllib.request.urlopen`` here. Runs inside the sandbox, next to
codeact_runner; imports only the standard library.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

__all__ = [
    "NetworkDenied",
    "NetworkError",
    "NetworkTimeout",
    "Response",
    "http_get",
    "http_post",
    "http_request",
    "install",
]


def _no_network(request_json: str) -> tuple[bool, str]:
    return False, '{"kind": "denied", "message": "this sandbox has no network access"}'


_SEND: Callable[[str], tuple[bool, str]] = _no_network  # the host call; set by install()


def _nothing_to_flush() -> None:
    return None


#: Hands buffered program output to the host before waiting on it; set by install().
_FLUSH: Callable[[], None] = _nothing_to_flush


class NetworkError(OSError):
    """An HTTP request failed: it timed out, its response was too large, or no connection."""


class NetworkDenied(NetworkError):
    """The host's allow-list does not allow this HTTP request; nothing was sent."""


class NetworkTimeout(NetworkError, TimeoutError):
    """An HTTP request took longer than the host allows."""


# Shown without a module prefix in tracebacks, like ToolError.
NetworkError.__module__ = NetworkDenied.__module__ = NetworkTimeout.__module__ = "builtins"

_json_dumps, _json_loads = json.dumps, json.loads  # http_request's `json=` shadows the module


class _Headers(dict[str, str]):
    """Response headers: a dict with case-insensitive keys (repeated headers joined by ', ')."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in pairs:
            key = name.lower()
            super().__setitem__(key, value if key not in self else self[key] + ", " + value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class Response:
    """An HTTP response: status, reason, url (after redirects), headers, content, text, json()."""

    def __init__(
        self,
        status: int,
        reason: str,
        url: str,
        header_pairs: list[tuple[str, str]],
        content: bytes,
    ) -> None:
        self.status = self.status_code = status
        self.reason = reason
        self.url = url
        self.header_pairs = header_pairs
        self.headers = _Headers(header_pairs)
        self.content = content

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> Response:
        if self.status >= 400:
            raise NetworkError(f"{self.status} {self.reason} for {self.url}")
        return self

    def __repr__(self) -> str:
        return f"<Response [{self.status}]>"


def _body_bytes(body: Any, headers: list[tuple[str, str]]) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (dict, list)):
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return json.dumps(body).encode("utf-8")
    raise TypeError(
        f"body must be bytes, str, or a dict/list (sent as JSON), not {type(body).__name__}"
    )


#: The longest own timeout sent to the host (a day; the host's own limit is shorter): any longer
#: number, 10**400 or inf, means "no shorter than the host's", and never reaches float() there.
_LONGEST = 86400.0


def _seconds(timeout: Any) -> float | None:
    """A request's own `timeout`, checked here: a positive number of seconds, or None."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds or None, not {type(timeout).__name__}"
        )
    if not timeout > 0:  # NaN too
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    return float(min(timeout, _LONGEST))


def http_request(
    method: str,
    url: str,
    headers: Any = None,
    body: Any = None,
    *,
    json: Any = None,
    params: Any = None,
    timeout: float | None = None,
) -> Response:
    """Send an HTTP request through the host, which allows only what its allow-list permits.

    Returns a Response (.status, .headers, .text, .content, .json()); an error status is a
    response too (call .raise_for_status()). Raises NetworkDenied if the request is not
    allowed, NetworkError if it fails.
    """
    if not isinstance(method, str) or not isinstance(url, str):
        raise TypeError("http_request() takes the method and the URL as strings")
    if params:
        url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(params)
    if isinstance(headers, dict):
        pairs = [(str(k), str(v)) for k, v in headers.items()]
    else:
        pairs = [(str(k), str(v)) for k, v in (headers or [])]
    data = _body_bytes(json if json is not None else body, pairs)
    request = {
        "method": method.upper(),
        "url": url,
        "headers": pairs,
        "body": None if data is None else base64.b64encode(data).decode("ascii"),
        "timeout": _seconds(timeout),
    }
    _FLUSH()
    ok, payload = _SEND(_json_dumps(request))
    reply = _json_loads(payload)
    if not ok:
        kind, message = reply.get("kind"), reply.get("message", "the request failed")
        if kind == "denied":
            raise NetworkDenied(message)
        if kind == "timeout":
            raise NetworkTimeout(message)
        raise NetworkError(message)
    return Response(
        reply["status"],
        reply.get("reason", ""),
        reply.get("url", url),
        [tuple(pair) for pair in reply.get("headers", [])],
        base64.b64decode(reply.get("body") or ""),
    )


def http_get(
    url: str, headers: Any = None, *, params: Any = None, timeout: float | None = None
) -> Response:
    """GET `url` through the host's allow-list; see http_request."""
    return http_request("GET", url, headers, params=params, timeout=timeout)


def http_post(
    url: str,
    body: Any = None,
    headers: Any = None,
    *,
    json: Any = None,
    timeout: float | None = None,
) -> Response:
    """POST `body` (bytes, str, or a dict/list sent as JSON) to `url`; see http_request."""
    return http_request("POST", url, headers, body, json=json, timeout=timeout)


def _install_urllib() -> None:
    """Route urllib.request.urlopen through http_request (so through the host's checks)."""
    try:
        import email.message
        import urllib.error
        import urllib.request
        import urllib.response
    except ImportError:
        return

    class SandboxHTTPHandler(urllib.request.BaseHandler):
        handler_order = 100

        def _open(self, req: urllib.request.Request) -> urllib.response.addinfourl:
            data: Any = req.data  # bytes, a file object or an iterable of bytes
            if data is not None and not isinstance(data, (bytes, bytearray)):
                data = data.read() if hasattr(data, "read") else b"".join(data)
            if data is not None and not req.has_header("Content-type"):
                req.add_unredirected_header("Content-type", "application/x-www-form-urlencoded")
            timeout = req.timeout if isinstance(req.timeout, (int, float)) else None
            try:
                resp = http_request(
                    req.get_method(), req.full_url, req.header_items(), data, timeout=timeout
                )
            except NetworkError as exc:
                raise urllib.error.URLError(exc) from None
            message = email.message.Message()
            for name, value in resp.header_pairs:
                message[name] = value
            result = urllib.response.addinfourl(
                io.BytesIO(resp.content), message, resp.url, resp.status
            )
            result.msg = resp.reason  # type: ignore[attr-defined]
            return result

        http_open = https_open = _open

    opener = urllib.request.OpenerDirector()
    for handler in (
        SandboxHTTPHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
        urllib.request.DataHandler(),
    ):
        opener.add_handler(handler)
    urllib.request.install_opener(opener)


def install(send: Callable[[str], tuple[bool, str]], flush: Callable[[], None]) -> None:
    """Connect to the host: `send(request_json) -> (ok, payload)`; `flush()` before each call."""
    global _SEND, _FLUSH
    _SEND, _FLUSH = send, flush
    _install_urllib()
