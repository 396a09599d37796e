"""The host's handle on the jail's zygote process, and on the children it forks.

The zygote is started once per backend with an empty environment and only a control socket.
Forking goes through it; each child comes back as a `Child`: its pid, a pidfd to kill it
without pid races, the host's ends of its channel and output pipes, and its exit status once
the zygote has reaped it.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import SandboxError
from . import cgroup

__all__ = ["Child", "Zygote"]

log = logging.getLogger("codeact.sandbox.jail")

BOOT = Path(__file__).parent.parent / "guest" / "boot.py"
RUNNER = Path(__file__).parent.parent / "guest" / "runtime" / "codeact_runner.py"
_START_TIMEOUT = 120.0  # importing large packages (numpy, pandas) on a busy machine
_FORK_TIMEOUT = 30.0
_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class Child:
    """One forked child: kill it, read its exit status, close the host's ends."""

    def __init__(self, pid: int, pidfd: int, sock: socket.socket, stdout_fd: int, stderr_fd: int):
        self.pid = pid
        self.pidfd = pidfd
        self.sock = sock
        self.stdout_fd = stdout_fd
        self.stderr_fd = stderr_fd
        self.exited: concurrent.futures.Future[int | None] = concurrent.futures.Future()
        self.output_dir: str | None = None  # its /output, made with it off the caller's path
        self.walls: object = None  # what it was confined with, once sent (the backend's)
        self.unsent = b""  # its walls, when they go with its run
        self._closed = False

    def kill(self) -> None:
        if self.exited.done() or self._closed:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except OSError:
            pass  # already gone

    def freeze(self, frozen: bool) -> None:
        """Stop every thread of the child (SIGSTOP: it cannot catch or ignore it) or let them go
        on (SIGCONT). A stopped child uses no CPU time, and SIGKILL still ends it."""
        if self.exited.done() or self._closed:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGSTOP if frozen else signal.SIGCONT)
        except OSError:
            pass  # already gone

    def exit_status(self, timeout: float) -> int | None:
        try:
            return self.exited.result(timeout)
        except concurrent.futures.TimeoutError:
            return None

    def close(self) -> None:
        """Kill the child if it still runs and close every descriptor the host holds."""
        self.kill()
        if self._closed:
            return
        self._closed = True
        self.sock.close()
        for fd in (self.pidfd, self.stdout_fd, self.stderr_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class Zygote:
    """Starts the zygote (`start`), forks children (`fork`), and stops it (`close`)."""

    def __init__(
        self,
        *,
        packages: Sequence[str] = (),
        sys_path: Sequence[str] = (),
        root: str = "",
        trees: Sequence[str] = (),
        modules: Sequence[str] = (),
    ) -> None:
        self.packages = list(packages)
        self.trees = list(trees)  # installed package trees: readable and bound, whole
        self.modules = list(modules)  # their importable top-level names
        self.sys_path = list(sys_path)
        self.root = root
        self.info: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._pending: collections.deque[concurrent.futures.Future[tuple[int, int]]] = (
            collections.deque()
        )
        self._children: dict[int, Child] = {}
        self._early_exits: dict[int, int] = {}
        self._drain: threading.Thread | None = None
        self._dead = threading.Event()
        self._closing = False
        self.cgroup = ""  # the cgroup bounding its tasks, "" where none could be made
        self.cgroup_problem = ""

    @property
    def alive(self) -> bool:
        process = self._process
        return process is not None and not self._dead.is_set() and process.poll() is None

    def start(self) -> dict[str, Any]:
        """Start the zygote and wait until it has imported everything; return its report."""
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-B",
                    "-X",
                    "utf8",
                    str(BOOT),
                    "jail.zygote",
                    str(zygote_end.fileno()),
                ],
                pass_fds=[zygote_end.fileno()],
                # Nothing of the host's environment; one thread per math library, so the
                # zygote stays single-threaded and safe to fork.
                env=dict.fromkeys(_THREAD_VARIABLES, "1"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # signals to the host's process group never reach it
            )
        finally:
            zygote_end.close()
        # Before it forks anything: every child inherits the cgroup and its bound on tasks.
        self.cgroup, self.cgroup_problem = cgroup.confine_tree(process.pid)
        if self.cgroup:  # a process that exits without closing us leaves no cgroup behind
            atexit.register(self.close)
        config = {
            "runner": str(RUNNER),
            "packages": self.packages,
            "sys_path": self.sys_path,
            "root": self.root,
            "trees": self.trees,
            "modules": self.modules,
        }
        host_end.sendall(json.dumps(config).encode())
        host_end.settimeout(_START_TIMEOUT)
        try:
            ready = json.loads(host_end.recv(1 << 20) or b"null")
        except (OSError, ValueError):
            ready = None
        if not isinstance(ready, dict) or ready.get("op") != "ready":
            process.kill()
            _, stderr = process.communicate(timeout=10)
            host_end.close()
            self._remove_cgroup()
            tail = stderr.decode("utf-8", "replace").strip().splitlines()[-12:]
            raise SandboxError("the jail's zygote failed to start:\n" + "\n".join(tail))
        host_end.settimeout(None)
        self.info = ready
        self._process = process
        self._control = host_end
        threading.Thread(target=self._read_control, name="codeact-jail-zygote", daemon=True).start()
        self._drain = threading.Thread(
            target=self._drain_stderr, name="codeact-jail-log", daemon=True
        )
        self._drain.start()
        return ready

    def fork(self) -> Child:
        """A new child, waiting for its run request."""
        control = self._control
        if control is None or not self.alive:
            raise SandboxError("the jail's zygote is not running")
        host_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        future: concurrent.futures.Future[tuple[int, int]] = concurrent.futures.Future()
        try:
            with self._send_lock:
                self._pending.append(future)
                socket.send_fds(control, [b'{"op": "fork"}'], [child_sock.fileno(), out_w, err_w])
        except OSError as exc:
            self._dead.set()  # the control socket is broken: this zygote is done
            for fd in (out_r, err_r):
                os.close(fd)
            host_sock.close()
            raise SandboxError(f"the jail's zygote cannot fork: {exc}") from exc
        finally:
            child_sock.close()
            os.close(out_w)
            os.close(err_w)
        try:
            pid, pidfd = future.result(_FORK_TIMEOUT)
        except Exception as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            host_sock.close()
            raise SandboxError(f"the jail's zygote did not fork: {exc}") from exc
        child = Child(pid, pidfd, host_sock, out_r, err_r)
        with self._send_lock:
            status = self._early_exits.pop(pid, None)
            if status is None:
                self._children[pid] = child
        if status is not None:
            child.exited.set_result(status)
        return child

    def _read_control(self) -> None:
        control = self._control
        assert control is not None
        try:
            while True:
                data, fds, _, _ = socket.recv_fds(control, 1 << 16, 2)
                if not data:
                    break
                message = json.loads(data)
                if message.get("op") == "forked" and fds:
                    self._pending.popleft().set_result((int(message["pid"]), fds[0]))
                elif message.get("op") == "forked":  # fork failed (its cgroup is full...)
                    self._pending.popleft().set_exception(
                        SandboxError(f"the jail's zygote cannot fork: {message.get('error')}")
                    )
                elif message.get("op") == "exit":
                    self._child_exited(int(message["pid"]), int(message["status"]))
                else:
                    for fd in fds:
                        os.close(fd)
        except (OSError, ValueError, IndexError) as exc:
            if not self._closing:
                log.warning("lost the jail's zygote control channel: %s", exc)
        finally:
            self._dead.set()
            error = SandboxError("the jail's zygote exited")
            while self._pending:
                self._pending.popleft().set_exception(error)
            with self._send_lock:
                children = list(self._children.values())
                self._children.clear()
            for child in children:
                if not child.exited.done():
                    child.exited.set_result(None)

    def _child_exited(self, pid: int, status: int) -> None:
        with self._send_lock:
            child = self._children.pop(pid, None)
            if child is None:
                self._early_exits[pid] = status  # reaped before fork() registered it
                return
        child.exited.set_result(status)

    def _drain_stderr(self) -> None:
        process = self._process
        if process is None or process.stderr is None:
            return
        with process.stderr:
            for line in process.stderr:
                log.warning("jail zygote: %s", line.decode("utf-8", "replace").rstrip())

    def close(self) -> None:
        """Stop the zygote; its children die with it."""
        atexit.unregister(self.close)
        self._closing = True
        if self._control is not None:
            try:
                self._control.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            if self._drain is not None:
                self._drain.join(timeout=5)  # the zygote is gone: its stderr ends and closes
        self._remove_cgroup()

    def _remove_cgroup(self) -> None:
        """Remove the zygote's cgroup once its children, killed with it, are gone (a leftover
        is removed when the next zygote starts)."""
        if not self.cgroup:
            return
        for _ in range(50):
            if cgroup.remove(self.cgroup):
                self.cgroup = ""
                return
            time.sleep(0.01)
