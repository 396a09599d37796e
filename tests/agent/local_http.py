"""Model servers of the OpenAIChat tests: a quiet HTTP/1.1 handler, a server on 127.0.0.1,
and serving it for the length of a test."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive (HTTP/1.1), no log line per request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass


def local_server(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A server of `handler` on a free port of 127.0.0.1, and its OpenAI base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"


@contextlib.contextmanager
def serving(httpd: ThreadingHTTPServer) -> Iterator[None]:
    """`httpd` answers on a thread of its own until the block ends."""
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
