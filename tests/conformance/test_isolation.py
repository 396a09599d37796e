"""Isolation probes: each must fail inside the sandbox and leave the host untouched."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codeact import CodeAct

CANARY_ENV = "CODEACT_TEST_CANARY"


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> str:
    value = secrets.token_hex(16)
    monkeypatch.setenv(CANARY_ENV, value)
    return value


@pytest.fixture
def canary_file(tmp_path: Path) -> Path:
    path = tmp_path / "canary.txt"
    path.write_text(secrets.token_hex(16))
    return path


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it receives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


async def _run(codeact: CodeAct, code: str) -> str:
    result = await codeact.execute(code)
    return result.stdout + (result.error.traceback if result.error else "")


async def test_host_files_are_not_visible(
    make_codeact: Callable[..., CodeAct], canary_file: Path
) -> None:
    secret = canary_file.read_text()  # noqa: ASYNC240 - a tiny test fixture file
    code = f"""
for path in [{str(canary_file)!r}, "/etc/passwd", "/proc/self/environ", {str(Path.home())!r}]:
    try:
        print(open(path).read()[:100])
    except Exception as e:
        print("refused", type(e).__name__)
import os
try:
    print(os.listdir("/"))
except Exception as e:
    print("refused", type(e).__name__)
"""
    out = await _run(make_codeact(), code)
    assert secret not in out
    assert "root:" not in out
    assert out.count("refused") >= 4


async def test_host_environment_is_not_visible(
    make_codeact: Callable[..., CodeAct], canary_env: str
) -> None:
    code = "import os\nprint(dict(os.environ))\nprint(os.environ.get('CODEACT_TEST_CANARY'))"
    out = await _run(make_codeact(), code)
    assert canary_env not in out
    assert "None" in out


async def test_sockets_cannot_reach_the_host(
    make_codeact: Callable[..., CodeAct], listener: Listener
) -> None:
    code = f"""
import socket
try:
    s = socket.create_connection(("127.0.0.1", {listener.port}), timeout=2)
    s.sendall(b"escaped")
    print("CONNECTED")
except Exception as e:
    print("refused", type(e).__name__)
try:
    print(socket.getaddrinfo("localhost", 80))
except Exception as e:
    print("dns refused", type(e).__name__)
"""
    out = await _run(make_codeact(), code)
    assert "CONNECTED" not in out
    assert "refused" in out
    assert listener.connections == 0


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess\nsubprocess.run(['id'])",
        "import os\nos.system('id')",
        "import os\nos.fork()",
        "import os\nos.execv('/bin/sh', ['sh'])",
    ],
    ids=["subprocess", "system", "fork", "exec"],
)
async def test_no_processes_can_be_started(make_codeact: Callable[..., CodeAct], code: str) -> None:
    result = await make_codeact().execute(code)
    assert not result.ok
    assert "uid=" not in result.stdout


async def test_ctypes_is_not_available(make_codeact: Callable[..., CodeAct]) -> None:
    result = await make_codeact().execute("import ctypes\nctypes.CDLL(None)")
    assert not result.ok and result.error is not None
    assert result.error.type in ("ModuleNotFoundError", "ImportError", "OSError")


async def test_threads_exist_only_where_the_backend_offers_them(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact()
    code = (
        "import threading\nt = threading.Thread(target=print, args=('ran',))\nt.start()\nt.join()"
    )
    result = await codeact.execute(code)
    if not codeact.backend.threads:
        assert not result.ok
        assert "ran" not in result.stdout
        return
    # Where threads exist they are inside the walls: a thread cannot do what the program
    # cannot, and a thread left running ends with its program.
    assert result.ok and result.stdout == "ran\n"
    code = """
import socket, threading, time
seen = []
def escape():
    try:
        socket.socket()
        seen.append("socket opened")
    except OSError as e:
        seen.append(type(e).__name__)
t = threading.Thread(target=escape)
t.start(); t.join()
threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
seen
"""
    result = await codeact.execute(code)
    assert result.ok and result.value == ["PermissionError"]
    assert (await codeact.execute("import threading\nthreading.active_count()")).value == 1


@pytest.mark.parametrize("module", ["codeact", "wasmtime", "numpy", "pydantic", "_posixsubprocess"])
async def test_host_only_modules_cannot_be_imported(
    make_codeact: Callable[..., CodeAct], module: str
) -> None:
    result = await make_codeact().execute(f"import {module}")
    assert not result.ok and result.error is not None
    assert result.error.type in ("ModuleNotFoundError", "ImportError")


async def test_files_written_in_the_sandbox_do_not_reach_the_host(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    target = tmp_path / "written.txt"
    code = f"""
try:
    open({str(target)!r}, "w").write("escaped")
    print("WROTE")
except Exception as e:
    print("refused", type(e).__name__)
"""
    out = await _run(make_codeact(), code)
    assert not target.exists()
    assert "refused" in out


def test_canary_survives_on_the_host(canary_env: str) -> None:
    assert os.environ[CANARY_ENV] == canary_env
