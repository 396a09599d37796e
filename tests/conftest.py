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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def wasm_ready() -> None:
    """Load (building the first time) the shared wasm backend once for the session."""
    from codeact.sandbox.registry import shared_backend

    shared_backend("wasm").prepare()


class LocalHTTPServer:
    """A real HTTP server on 127.0.0.1 for network tests; records every request it gets.

    Routes (any method): ``/redirect?to=URL[&code=302]``, ``/big?n=BYTES`` (with
    Content-Length), ``/stream?n=BYTES`` (no length, ends by closing), ``/slow?s=SECONDS``,
    ``/trickle?s=SECONDS`` (no length, a line every 0.1 s), ``/slow-headers?s=SECONDS`` (a
    header every 0.1 s, never their end); anything else echoes the request as JSON (method,
    path, headers, body).
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
                elif url.path in ("/trickle", "/slow-headers"):
                    self._trickle(float(query["s"]), headers=url.path == "/slow-headers")
                else:
                    self._json(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body.decode("utf-8", "replace"),
                        }
                    )

            def _trickle(self, seconds: float, *, headers: bool) -> None:
                self.wfile.write(b"HTTP/1.0 200 OK\r\n")
                if not headers:
                    self.wfile.write(b"Connection: close\r\n\r\n")
                ends = time.monotonic() + seconds
                try:
                    while time.monotonic() < ends:
                        self.wfile.write(b"X-Line: more\r\n" if headers else b"line\n")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    server.gave_up.append(self.path)  # the client went away

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
            def handle_error(
                self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
            ) -> None:
                # A client that gave up (the sandbox's timeout tests do) closes its end
                # before a slow handler answers: expected here, not worth a traceback.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.hits: list[tuple[str, str, dict[str, str], bytes]] = []
        self.gave_up: list[str] = []  # the paths whose client went away mid-response
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


# -- packages (no network: wheels built here, or rebuilt from this environment) -----------------
def build_wheel(
    dest: Path,
    name: str,
    version: str,
    files: dict[str, str],
    *,
    requires: tuple[str, ...] = (),
    tag: str = "py3-none-any",
    requires_python: str | None = None,
) -> Path:
    """A wheel written by hand: `files` (path -> text), METADATA, WHEEL and RECORD."""
    import base64
    import hashlib
    import zipfile

    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    if requires_python is not None:
        metadata += f"Requires-Python: {requires_python}\n"
    contents = {
        **files,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: codeact-tests\nRoot-Is-Purelib: "
        f"{'true' if tag.endswith('none-any') else 'false'}\nTag: {tag}\n",
    }
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    wheel = dest / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in contents.items():
            zf.writestr(zipfile.ZipInfo(path, (1980, 1, 1, 0, 0, 0)), text)
        zf.writestr(zipfile.ZipInfo(f"{info}/RECORD", (1980, 1, 1, 0, 0, 0)), "\n".join(record))
    return wheel


def make_pure_wheelhouse(dest: Path) -> Path:
    """tinycalc 1.0 and 2.0 (pure), tinyfmt 1.0 (pure, needs tinycalc<2), tinyctypes 1.0 (pure,
    its load() imports ctypes, which no sandbox offers), tinynative 1.0 (a native tag)."""
    dest.mkdir(parents=True, exist_ok=True)
    build_wheel(dest, "tinycalc", "2.0", {"tinycalc/__init__.py": "def mean(xs):\n    return 0\n"})
    build_wheel(
        dest,
        "tinycalc",
        "1.0",
        {"tinycalc/__init__.py": "def mean(xs):\n    return sum(xs) / len(xs)\n"},
    )
    build_wheel(
        dest,
        "tinyfmt",
        "1.0",
        {"tinyfmt.py": "import tinycalc\n\ndef show(xs):\n    return f'{tinycalc.mean(xs)}'\n"},
        requires=("tinycalc>=1.0,<2",),
    )
    build_wheel(dest, "tinyctypes", "1.0", {"tinyctypes.py": "def load():\n    import ctypes\n"})
    build_wheel(
        dest,
        "tinynative",
        "1.0",
        {"tinynative/__init__.py": "X = 1\n"},
        tag=_native_tag(),
    )
    return dest


@pytest.fixture(scope="session")
def wheelhouse_builder() -> Callable[[Path], Path]:
    """`make_pure_wheelhouse`, for tests that want a wheelhouse of their own."""
    return make_pure_wheelhouse


@pytest.fixture(scope="session")
def wheel_maker() -> Callable[..., Path]:
    """`build_wheel`, for tests that write wheels of their own (`host_wheel_tag`: a native
    tag of this interpreter and platform)."""
    return build_wheel


@pytest.fixture(scope="session")
def host_wheel_tag() -> str:
    return _native_tag()


@pytest.fixture(scope="session")
def pure_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pure_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="session")
def wasm_packages(pure_wheelhouse: Path) -> Any:
    """tinyfmt (and its dependency tinycalc) installed for the Wasm guest, from the wheelhouse."""
    from codeact.sandbox.packages import resolve_packages

    return resolve_packages(["tinyfmt"], target="wasm", wheelhouse=pure_wheelhouse)


@pytest.fixture(scope="session")
def jail_packages(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """numpy and pandas for the jail, from wheels rebuilt out of this test environment (the
    index is never asked: the suite must pass offline)."""
    import importlib.metadata

    from codeact.sandbox.packages import resolve_packages, wheelhouse_from_installed
    from codeact.sandbox.registry import backend_availability

    availability = backend_availability("jail")
    if not availability.available:
        pytest.skip(f"jail: {availability.reason}")
    try:
        names = _installed_closure(["numpy", "pandas"])
    except importlib.metadata.PackageNotFoundError as exc:
        pytest.skip(f"{exc} is not installed in the test environment (the dev extra has it)")
    house = tmp_path_factory.mktemp("jail-wheelhouse")
    wheelhouse_from_installed(names, house)
    return resolve_packages(["numpy", "pandas"], target="jail", wheelhouse=house)


def _installed_closure(names: list[str]) -> list[str]:
    """`names` and every distribution they need here (markers evaluated for this Python)."""
    import importlib.metadata

    from packaging.requirements import Requirement

    seen: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        if name.lower() in (s.lower() for s in seen):
            continue
        dist = importlib.metadata.distribution(name)
        seen.append(dist.metadata["Name"])
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _native_tag() -> str:
    """A wheel tag for this interpreter and platform (``cp311-cp311-linux_x86_64``)."""
    import sysconfig

    python = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    return f"{python}-{python}-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"
