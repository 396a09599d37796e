"""Fixtures shared by the whole suite.

The Wasm guest is built and compiled once per machine (user cache) and loaded once per test
run by the session fixture `wasm_ready`; no test builds or compiles it by itself.
`http_server` is a real HTTP server on 127.0.0.1 for the network tests (no test talks to
anything else).
"""

from __future__ import annotations

import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def wasm_ready() -> None:
    """Load (building the first time) the shared wasm backend once for the session."""
    from codeact.sandbox.registry import shared_backend

    shared_backend("wasm").prepare()


class LocalHTTPServer:
    """A real HTTP server on 127.0.0.1 for network tests; records every request it gets.

    Routes (any method): ``/redirect?to=URL[&code=302]``, ``/big?n=BYTES`` (with
    Content-Length), ``/stream?n=BYTES`` (no length, ends by closing), ``/slow?s=SECONDS``;
    anything else echoes the request as JSON (method, path, headers, body).
    """

    def __init__(self) -> None:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.hits.append((self.command, self.path, dict(self.headers), body))
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/redirect":
                    self.send_response(int(query.get("code", "302")))
                    self.send_header("Location", query["to"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif url.path == "/big":
                    data = b"x" * int(query["n"])
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif url.path == "/stream":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(int(query["n"]) // 1000):
                        self.wfile.write(b"y" * 1000)
                elif url.path == "/slow":
                    time.sleep(float(query["s"]))
                    self._json({"slept": True})
                else:
                    self._json(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body.decode("utf-8", "replace"),
                        }
                    )

            def _json(self, value: object) -> None:
                data = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # A client that gave up (the sandbox's timeout tests do) closes its end
                # before a slow handler answers: expected here, not worth a traceback.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)  # type: ignore[arg-type]

        self.hits: list[tuple[str, str, dict[str, str], bytes]] = []
        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True  # a /slow handler must not hold up the test's end
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.origin + path

    def paths(self) -> list[str]:
        return [path for _, path, _, _ in self.hits]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer()
    yield server
    server.close()


class RawServer:
    """Answers every request 200 (or 302 to ``?to=``), keeps each request's raw head."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.heads: list[bytes] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    continue
                head = data.split(b"\r\n\r\n", 1)[0]
                self.heads.append(head)
                target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
                if b"?to=" in target:
                    location = target.split(b"?to=", 1)[1]
                    reply = b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\n"
                else:
                    reply = b"HTTP/1.1 200 OK\r\n"
                try:
                    conn.sendall(reply + b"Content-Length: 2\r\nConnection: close\r\n\r\nok")
                except OSError:
                    pass

    def header_lines(self, index: int = -1) -> list[bytes]:
        return self.heads[index].split(b"\r\n")[1:]

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    """A raw HTTP server on 127.0.0.1 that records each request's head as received."""
    server = RawServer()
    yield server
    server.close()
