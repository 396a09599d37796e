"""The host's handle on one hyperlight worker process (see `guest/hyperlight/worker.py`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..._nesting import loads_within
from ...errors import SandboxError
from ..artifacts import new_output_dir, remove_output_dir
from ..cleanup import remove_tree

__all__ = ["RunChannel", "WorkerProcess"]

BOOT = Path(__file__).parent.parent / "guest" / "boot.py"
RUNNER = Path(__file__).parent.parent / "guest" / "runtime" / "codeact_runner.py"
DEFAULT_FACTORY = "hyperlight_sandbox:Sandbox"
_START_TIMEOUT = 120.0
_ENV_KEEP = ("HOME", "PATH", "LANG", "XDG_CACHE_HOME", "LOCALAPPDATA", "SYSTEMROOT", "TEMP", "TMP")


class RunChannel:
    """The host's ends of one run: the channel socket and the two output pipes."""

    def __init__(self, sock: socket.socket, stdout_fd: int, stderr_fd: int) -> None:
        self.sock = sock
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd

    def close(self) -> None:
        self.sock.close()
        for fd in (self.stdout_fd, self.stderr_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class WorkerProcess:
    """A worker with one VM of `heap_mb` MiB, ready to run programs one at a time."""

    def __init__(
        self, *, heap_mb: int, factory: str = DEFAULT_FACTORY, input_dir: str | None = None
    ) -> None:
        self.heap_mb = heap_mb
        self.input_dir = input_dir
        #: The host folder the guest sees as /output; emptied around every run.
        self.output_dir = new_output_dir()
        host_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", str(BOOT), "hyperlight.worker", str(worker_end.fileno())],
                pass_fds=[worker_end.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            worker_end.close()
        self.control = host_end
        start = {
            "op": "start",
            "runner": str(RUNNER),
            "heap_mb": heap_mb,
            "factory": factory,
            "output_dir": self.output_dir,
            "input_dir": input_dir,
        }
        host_end.sendall(json.dumps(start).encode())
        reply = self._receive(_START_TIMEOUT)
        if reply.get("op") != "ready":
            self.close()  # the process, the control socket and the output folder
            raise SandboxError(str(reply.get("error") or "the hyperlight worker did not start"))

    def _receive(self, timeout: float | None) -> dict[str, Any]:
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(1 << 16)
        except OSError:
            data = b""
        finally:
            self.control.settimeout(None)
        try:
            message = loads_within(data) if data else {}
        except ValueError:
            message = {}
        return message if isinstance(message, dict) else {}

    def begin_run(self) -> RunChannel:
        """Hand the worker a fresh channel and pipes for the next program."""
        host_sock, worker_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(self.control, [b'{"op": "run"}'], [worker_sock.fileno(), out_w, err_w])
        except OSError as exc:
            host_sock.close()
            os.close(out_r)
            os.close(err_r)
            raise SandboxError(f"the hyperlight worker is gone: {exc}") from exc
        finally:
            worker_sock.close()
            os.close(out_w)
            os.close(err_w)
        return RunChannel(host_sock, out_r, err_r)

    def end_run(self, timeout: float = 5.0) -> bool:
        """Wait until the worker is ready again; False when it is not (then discard it)."""
        return self._receive(timeout).get("op") == "done"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def exit_status(self, timeout: float) -> int | None:
        """The worker's wait status (as os.waitpid reports it) once it has ended."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return (-code) & 0x7F if code < 0 else (code & 0xFF) << 8

    def empty_output(self) -> None:
        """Remove whatever a program left under /output (it never reaches the next one)."""
        for entry in Path(self.output_dir).iterdir():
            remove_tree(str(entry))  # any depth, links not followed, never raises

    def close(self) -> None:
        self.kill()
        self.control.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        remove_output_dir(self.output_dir)
