"""The escape suite's host: canaries the sandbox must never reach, and the checks after each try.

Every attempt runs on every backend (an unavailable one is skipped with its reason). After each
attempt `Host.check` asserts that the host is unaffected:

* the canary file's secret and the canary environment variable's secret appear nowhere in what
  came back (output, value, error, tool-call records);
* the canary file is intact and none of the paths an attempt tries to create exists;
* the host's TCP, UDP, UNIX and abstract-socket listeners received nothing;
* the host process and a sentinel child process (same process group as the host) are alive;
* the next execution on the same CodeAct works.

Attempts name the host's things with markers (``@CANARY_FILE@``, ``@TCP_PORT@``...) that
`Host.code` replaces before running them.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codeact import CodeAct, ExecutionResult, Limits, tool
from codeact.sandbox.registry import backend_availability, backend_names, shared_backend

CANARY_ENV = "CODEACT_ESCAPE_CANARY"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" in metafunc.fixturenames:
        params = []
        for name in backend_names():
            availability = backend_availability(name)
            reason = "" if availability.available else availability.reason
            marks = pytest.mark.skip(reason=f"{name}: {reason}") if reason else ()
            params.append(pytest.param(name, marks=marks))
        metafunc.parametrize("backend_name", params)


class _Counter:
    """Counts what a listening socket receives, on a thread of its own."""

    def __init__(self, sock: socket.socket, stream: bool) -> None:
        self.sock = sock
        self.stream = stream
        self.received = 0
        sock.settimeout(0.2)
        if stream:
            sock.listen(16)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                if self.stream:
                    conn, _ = self.sock.accept()
                    self.received += 1
                    conn.close()
                else:
                    self.sock.recvfrom(65536)
                    self.received += 1
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class Host:
    """The host's canaries and listeners, and the checks that nothing reached them."""

    def __init__(self, tmp: Path, *, control: bool = False) -> None:
        self.tmp = tmp
        self.file_secret = secrets.token_hex(16)
        self.env_secret = secrets.token_hex(16)
        self.canary_file = tmp / "canary.txt"
        self.canary_file.write_text(self.file_secret)
        self.canary_stat = _metadata(self.canary_file)
        # A module holding the secret, for import tricks.
        (tmp / "host_secret_module.py").write_text(f"SECRET = {self.file_secret!r}\n")
        token = secrets.token_hex(6)
        self.pwned = [tmp / "pwned", Path(f"/tmp/codeact-escape-{token}")]
        self.control = control
        if not control:  # a control run gets the variable in its own environment
            os.environ[CANARY_ENV] = self.env_secret
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        self.unix_path = tmp / "host.sock"
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(str(self.unix_path))
        self.abstract_name = f"codeact-escape-{token}"
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        abstract.bind("\0" + self.abstract_name)
        self.listeners = {
            "tcp": _Counter(tcp, True),
            "udp": _Counter(udp, False),
            "unix": _Counter(unix, True),
            "abstract": _Counter(abstract, True),
        }
        self.tcp_port = tcp.getsockname()[1]
        self.udp_port = udp.getsockname()[1]
        # A child of the host in the host's own process group: signals aimed at the host's
        # group or at every process would end it.
        self.sentinel = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(3600)"], stdin=subprocess.DEVNULL
        )
        # Control runs (no sandbox) aim the attempts' signals at a stand-in, not at pytest.
        self.victim = (
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            if control
            else None
        )
        host_pid = self.victim.pid if self.victim is not None else os.getpid()
        self.markers = {
            "@CANARY_FILE@": str(self.canary_file),
            "@CANARY_DIR@": str(tmp),
            "@CANARY_ENV@": CANARY_ENV,
            "@PWNED@": str(self.pwned[0]),
            "@PWNED_TMP@": str(self.pwned[1]),
            "@TCP_PORT@": str(self.tcp_port),
            "@UDP_PORT@": str(self.udp_port),
            "@UNIX_PATH@": str(self.unix_path),
            "@ABSTRACT@": self.abstract_name,
            "@HOST_PID@": str(host_pid),
            "@SENTINEL_PID@": str(self.sentinel.pid),
            "@HOME@": str(Path.home()),
        }

    def code(self, template: str) -> str:
        for marker, value in self.markers.items():
            template = template.replace(marker, value)
        assert not re.search(r"@[A-Z_]+@", template), "an attempt uses an unknown marker"
        return template

    def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        for process in (self.sentinel, self.victim):
            if process is not None:
                process.kill()
                process.wait()
        if not self.control:
            os.environ.pop(CANARY_ENV, None)
        for path in self.pwned:
            path.unlink(missing_ok=True)

    def violations(self, seen: str) -> list[str]:
        """Everything that shows the host was reached; `seen` is all a program gave back."""
        found = []
        if self.file_secret in seen:
            found.append("the canary file's secret reached the program")
        if self.env_secret in seen:
            found.append("the canary environment variable reached the program")
        if not self.canary_file.exists():
            found.append("the canary file was removed")
        elif self.canary_file.read_text() != self.file_secret:
            found.append("the canary file was changed")
        elif _metadata(self.canary_file) != self.canary_stat:
            found.append("the canary file's metadata changed")
        if not self.control and os.environ.get(CANARY_ENV) != self.env_secret:
            found.append("the host's environment was changed")
        found += [f"the program created {p} on the host" for p in self.pwned if os.path.lexists(p)]
        found += [
            f"the host's {n} listener was reached" for n, c in self.listeners.items() if c.received
        ]
        if self.sentinel.poll() is not None:
            found.append("the host's sentinel child was killed")
        if self.victim is not None and self.victim.poll() is not None:
            found.append("the stand-in for the host process was killed")
        return found

    def check(self, result: ExecutionResult) -> None:
        assert self.violations(_everything_in(result)) == []


def _metadata(path: Path) -> tuple[int, ...]:
    st = path.stat()
    return (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino)


def _everything_in(result: ExecutionResult) -> str:
    parts: list[Any] = [result.stdout, result.stderr, result.value, result.value_repr]
    if result.error is not None:
        parts += [result.error.message, result.error.traceback]
    parts += [(c.arguments, c.error) for c in result.tool_calls]
    return repr(parts)


@pytest.fixture(scope="session")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    h = Host(tmp_path_factory.mktemp("escape-host"))
    yield h
    h.close()


@pytest.fixture
def control_host(tmp_path: Path) -> Iterator[Host]:
    """A second host for control runs: the attempt runs on it with no sandbox at all."""
    h = Host(tmp_path, control=True)
    yield h
    h.close()


@pytest.fixture
def unsandboxed(control_host: Host) -> Callable[[str], list[str]]:
    """``unsandboxed(code)``: the violations an attempt causes with no sandbox at all."""
    return lambda template: run_unsandboxed(control_host, template)


def run_unsandboxed(host: Host, template: str) -> list[str]:
    """Run an attempt in a plain Python process on `host`; return the violations it caused.

    An attempt that causes none without a sandbox proves nothing with one: this is how the
    suite checks that its attempts are real."""
    proc = subprocess.run(
        [sys.executable, "-c", host.code(template)],
        cwd=host.tmp,
        env={**os.environ, CANARY_ENV: host.env_secret},
        capture_output=True,
        text=True,
        timeout=60,
    )
    time.sleep(0.2)  # let the listeners count what arrived
    claims = [
        line
        for line in proc.stdout.splitlines()
        if line.startswith(("ESCAPED", "REACHED", "SIGNALLED", "CHANGED", "WROTE", "READ"))
    ]
    return host.violations(proc.stdout + proc.stderr) + claims


@tool
def echo(value: Any = None) -> Any:
    """Returns its argument unchanged."""
    return value


@pytest.fixture
def make_codeact(backend_name: str) -> Callable[..., CodeAct]:
    shared_backend(backend_name).prepare()

    def make(**kwargs: Any) -> CodeAct:
        kwargs.setdefault("limits", Limits(wall_time=10, memory_mb=128, output_bytes=64 * 1024))
        kwargs.setdefault("tools", [echo])
        return CodeAct(backend=backend_name, **kwargs)

    return make


@pytest.fixture
def attempt(host: Host, make_codeact: Callable[..., CodeAct]) -> Callable[..., Any]:
    """``await attempt(code, limits=...)``: run an escape attempt, check the host is unaffected
    and that the next execution works; return the attempt's result for its own assertions."""

    async def run(template: str, **kwargs: Any) -> ExecutionResult:
        codeact = make_codeact(**kwargs)
        result = await codeact.execute(host.code(template))
        host.check(result)
        after = await codeact.execute("print('alive')\n6 * 7")
        assert after.ok and after.stdout == "alive\n" and after.value == 42, after.error
        host.check(after)
        return result

    return run
