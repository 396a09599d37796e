"""`Fetcher`: one HTTP exchange with addresses that were already checked.

`HttpEgress` (`codeact.bridge.http_egress`) checks a request against the allow-list and
resolves its host; a `Fetcher` then connects to one of the checked addresses (never a second
DNS lookup: `_PinnedHTTP`, and TLS still verifies the host name), sends the request, and
reads the response, cut off past `NetworkLimits.max_response_bytes`, before the deadline.
A timer, or `cancel` from another thread, shuts the socket down under a blocked read.
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Sequence

from ..policy.addresses import IPAddress
from ..policy.headers import normalized_name
from ..policy.network import NetworkLimits
from ..policy.urls import Target

__all__ = ["FetchFailed", "FetchTimedOut", "Fetcher"]

_CHUNK = 64 * 1024


class FetchFailed(Exception):
    """The request could not be sent or its response read (the message says why)."""

    kind = "error"


class FetchTimedOut(Exception):
    """The response did not arrive within the request's time."""

    kind = "timeout"


class Fetcher:
    """Sends a request to the addresses checked for it and reads the response within
    `limits` and a deadline; one per `HttpEgress`."""

    def __init__(self, limits: NetworkLimits, ssl_context: ssl.SSLContext | None) -> None:
        self.limits = limits
        self._ssl_context = ssl_context
        self._active: _PinnedHTTP | None = None
        self._cancelled = False

    def cancel(self) -> None:
        """Abort a request in flight (the execution is being stopped)."""
        self._cancelled = True
        conn = self._active
        if conn is not None:
            _abort(conn)

    def fetch(
        self,
        target: Target,
        addresses: Sequence[IPAddress],
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        until: float,
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        parts = urllib.parse.urlsplit(url)
        request_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        last_error: Exception | None = None
        for address in addresses:
            remaining = until - time.monotonic()
            if remaining <= 0 or self._cancelled:
                break
            conn = self._connection(target, str(address), remaining)
            timer = threading.Timer(remaining, _abort, (conn,))
            timer.daemon = True
            self._active = conn
            timer.start()
            response: http.client.HTTPResponse | None = None
            try:
                try:
                    conn.connect()
                except OSError as exc:
                    last_error = exc
                    continue
                conn.putrequest(method, request_target)
                if not any(normalized_name(k) == "user-agent" for k, _ in headers):
                    conn.putheader("User-Agent", "codeact-sandbox")
                for name, value in headers:
                    conn.putheader(name, value)
                if body is not None or method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body or b"")))
                conn.endheaders(body)
                response = conn.getresponse()
                content = self._read(response, method, url, until)
                if conn.aborted:  # the shut socket read as the end: headers or body cut short
                    raise TimeoutError("deadline")
                return response.status, response.reason, response.getheaders(), content
            except ValueError as exc:  # http.client refuses a bad header or method
                raise FetchFailed(f"cannot send {method} {url}: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                if conn.aborted or time.monotonic() >= until or self._cancelled:
                    break
                raise FetchFailed(f"{method} {url} failed: {exc or type(exc).__name__}") from None
            finally:
                timer.cancel()
                self._active = None
                if response is not None:
                    response.close()  # its file holds the socket open after conn.close()
                conn.close()
        if last_error is not None and time.monotonic() < until and not self._cancelled:
            raise FetchFailed(f"cannot connect to {target.origin}: {last_error}")
        raise FetchTimedOut(f"{method} {url} timed out")  # the caller says which time ran out

    def _connection(self, target: Target, address: str, timeout: float) -> _PinnedHTTP:
        if target.scheme == "https":
            context = self._ssl_context or _default_ssl_context()
            return _PinnedHTTPS(target.host, target.port, address, timeout, context)
        return _PinnedHTTP(target.host, target.port, address, timeout)

    def _read(
        self, response: http.client.HTTPResponse, method: str, url: str, until: float
    ) -> bytes:
        limit = self.limits.max_response_bytes
        too_large = FetchFailed(
            f"the response to {method} {url} is larger than {limit} bytes "
            f"(NetworkLimits.max_response_bytes) and was cut off"
        )
        length = response.getheader("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            # read1: what has arrived, so that a body trickling in is held to the deadline
            # (read(n) waits for n bytes or the end: a server sending a line a second, with
            # no Content-Length, kept a host thread reading past the execution's end).
            chunk = response.read1(min(_CHUNK, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if time.monotonic() >= until:
                raise TimeoutError("deadline")


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a host name that connects to an address checked beforehand."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        #: The socket, kept for `_abort`: http.client hands it to a response that ends with
        #: the connection (``Connection: close``, HTTP/1.0) and sets ``sock`` to None.
        self.held: socket.socket | None = None
        self.aborted = False  # `_abort` shut the socket down (the deadline, or a cancel)

    def connect(self) -> None:
        self.sock = self.held = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = 443

    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, address, timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        # TLS verifies the certificate against the name, not the pinned address.
        self.sock = self.held = self._context.wrap_socket(self.sock, server_hostname=self.host)


def _abort(conn: _PinnedHTTP) -> None:
    """Wake a thread blocked on `conn` (from another thread): shut the socket down."""
    conn.aborted = True
    sock = conn.held
    if sock is not None:
        try:
            # socket.socket.shutdown, not SSLSocket.shutdown: that one also drops its TLS
            # state under the reading thread's feet.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()
