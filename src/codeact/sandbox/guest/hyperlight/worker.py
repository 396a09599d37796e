"""The hyperlight worker: a host-side process that owns one Hyperlight micro-VM.

Why a process of its own: the `hyperlight-sandbox` package runs the guest while holding the
GIL, offers no way to interrupt it, and its sandbox object must stay on the thread that made
it. In a worker process none of that can stall the host: the host kills the worker at the wall
time, and starts a new one.

Run as ``python -I guest/boot.py hyperlight.worker CONTROL_FD`` (standard library and
`hyperlight_sandbox` only). The
control socket (SOCK_SEQPACKET, one JSON message per packet) carries:

    host -> worker   {"op": "start", "runner": PATH, "heap_mb": N, "factory": "module:attr"}
                     {"op": "run"} + three descriptors: channel socket, stdout and stderr pipes
    worker -> host   {"op": "ready"} or {"op": "failed", "error": ...}   after "start"
                     {"op": "done"}                                   after each run

A run speaks the process wire protocol (see `../wire.py`): the host sends the run
request as the first frame; the guest's tool calls, waits and output reach the worker as host
functions of the VM and go to the host as frames and pipe writes; the report is the last frame.
The VM is restored from a snapshot taken after setup before every run, so nothing survives.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from .. import RUNNER_MODULES
from ..wire import read_frame, write_frame

_MAX_SLEEP = 365 * 86400.0
_REAL_SLEEP = time.sleep  # kept even if something in this process replaces time.sleep
_VM_OVERHEAD_MB = 64


#: Run once in a fresh VM before the snapshot: the shared runner as module `codeact_runner`,
#: connected to this worker through host functions. `call_tool` is the guest's own host-call
#: function (hyperlight's Python guest defines it in the executor's globals).
GUEST_SETUP = """
import json as _json, sys as _sys, types as _types
for _name, _source in SOURCES:
    _module = _types.ModuleType(_name)
    _module.__file__ = _name + ".py"
    _sys.modules[_name] = _module
    exec(compile(_source, _name + ".py", "exec"), _module.__dict__)


class _HyperlightHost:
    @staticmethod
    def dispatch(name, args_json):
        ok, payload = _json.loads(call_tool("_codeact_call", name=name, args=args_json))
        return bool(ok), payload

    @staticmethod
    def start_call(name, args_json):
        ok, value = _json.loads(call_tool("_codeact_start", name=name, args=args_json))
        return bool(ok), value

    @staticmethod
    def wait_calls(timeout_ms):
        return _json.loads(call_tool("_codeact_wait", timeout_ms=int(timeout_ms)))

    @staticmethod
    def http_request(request_json):
        ok, payload = _json.loads(call_tool("_codeact_http", request=request_json))
        return bool(ok), payload

    @staticmethod
    def sleep(ms):
        call_tool("_codeact_sleep", ms=int(ms))

    @staticmethod
    def write_output(stream, text):
        call_tool("_codeact_output", stream=int(stream), text=text)


_module.install(_HyperlightHost())
del SOURCES
"""


def setup_source(runner: str) -> str:
    """The program that installs the runner (its modules read from `runner`'s folder) in a VM."""
    sources = [
        (name, Path(runner).with_name(name + ".py").read_text(encoding="utf-8"))
        for name in RUNNER_MODULES
    ]
    return f"SOURCES = {sources!r}\n{GUEST_SETUP}"


#: Run for each program: the runner's report goes back through a host function.
GUEST_RUN = "call_tool('_codeact_report', report=_sys.modules['codeact_runner'].run({request!r}))"


class _Run:
    """The channel of the run in progress; the VM's host functions use it."""

    sock: socket.socket | None = None
    out_fd = -1
    err_fd = -1
    report: str | None = None


_RUN = _Run()


def _request(message: list[Any]) -> str:
    sock = _RUN.sock
    if sock is None:
        raise RuntimeError("no program is running")
    write_frame(sock, message)
    return json.dumps(read_frame(sock))


# The VM's host functions. Hyperlight derives each one's argument schema from its annotations;
# each returns a string, which the guest receives as is.
def _codeact_call(name: str, args: str) -> str:
    return _request(["c", name, args])


def _codeact_start(name: str, args: str) -> str:
    return _request(["s", name, args])


def _codeact_wait(timeout_ms: int) -> str:
    return _request(["w", int(timeout_ms)])


def _codeact_http(request: str) -> str:
    return _request(["h", request])


def _codeact_sleep(ms: int) -> str:
    _REAL_SLEEP(min(max(ms, 0) / 1000, _MAX_SLEEP))  # the host kills the worker at the deadline
    return ""


def _codeact_output(stream: int, text: str) -> str:
    if stream not in (1, 2):  # the runner's counts and reports for the host's other channels
        return ""
    data = text.encode("utf-8", "surrogatepass")
    fd = _RUN.out_fd if stream == 1 else _RUN.err_fd
    while data:
        data = data[os.write(fd, data) :]
    return ""


def _codeact_report(report: str) -> str:
    _RUN.report = report
    return ""


HOST_FUNCTIONS = (
    _codeact_call,
    _codeact_start,
    _codeact_wait,
    _codeact_http,
    _codeact_sleep,
    _codeact_output,
    _codeact_report,
)


def _load(factory: str) -> Any:
    """``module:attr`` or ``path/to/file.py:attr`` (a compatible stand-in, e.g. in tests)."""
    target, _, attr = factory.rpartition(":")
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location("_codeact_hyperlight_factory", target)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {target}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, attr)


def start_sandbox(
    *,
    runner: str,
    heap_mb: int,
    factory: str,
    output_dir: str | None = None,
    input_dir: str | None = None,
) -> tuple[Any, Any]:
    """A VM with the runner installed, and the snapshot every run starts from. The guest sees
    `output_dir` as /output (the host empties it around every run) and `input_dir`, read-only,
    as /input."""
    sandbox_class = _load(factory)
    # `stack_size` is the VM's whole scratch memory in hyperlight-sandbox 0.8: it must exceed
    # the heap by the runtime's own needs, or the VM refuses to build.
    options: dict[str, Any] = {
        "backend": "wasm",
        "heap_size": f"{heap_mb}Mi",
        "stack_size": f"{heap_mb + _VM_OVERHEAD_MB}Mi",
    }
    if output_dir:
        options["output_dir"] = output_dir
    if input_dir:
        options["input_dir"] = input_dir
    sandbox = sandbox_class(**options)
    for function in HOST_FUNCTIONS:
        sandbox.register_tool(function.__name__, function)
    result = sandbox.run(setup_source(runner))
    if getattr(result, "exit_code", 0) != 0:
        raise RuntimeError(f"the runner could not be installed in the VM: {result.stderr.strip()}")
    return sandbox, sandbox.snapshot()


def run_one(sandbox: Any, snapshot: Any, sock: socket.socket) -> None:
    """Serve one program: read its request, restore the VM, run it, send the report."""
    request = read_frame(sock)
    _RUN.report = None
    sandbox.restore(snapshot)
    result = sandbox.run(GUEST_RUN.format(request=request["run"]))
    report = _RUN.report
    if report is None:
        detail = (getattr(result, "stderr", "") or "").strip()[-2000:]
        kind = "MemoryError" if "memory" in detail.lower() else "SandboxError"
        report = json.dumps(
            {
                "error": {
                    "type": kind,
                    "message": f"the VM's guest failed: {detail}",
                    "traceback": "",
                }
            }
        )
    write_frame(sock, ["r", report])


def main(control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)
    start = json.loads(control.recv(1 << 16))
    try:
        sandbox, snapshot = start_sandbox(
            runner=start["runner"],
            heap_mb=int(start["heap_mb"]),
            factory=start["factory"],
            output_dir=start.get("output_dir"),
            input_dir=start.get("input_dir"),
        )
    except BaseException as exc:  # report the VM's own words: they say why it cannot run
        control.sendmsg([json.dumps({"op": "failed", "error": f"{exc}"}).encode()])
        return
    control.sendmsg([json.dumps({"op": "ready"}).encode()])
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 16, 3)
        except ConnectionError:
            return
        if not data:
            return
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        sock = socket.socket(fileno=fds[0])
        _RUN.sock, _RUN.out_fd, _RUN.err_fd = sock, fds[1], fds[2]
        try:
            run_one(sandbox, snapshot, sock)
        except (ConnectionError, BrokenPipeError):
            pass  # the host gave up on this run
        except Exception as exc:
            try:
                write_frame(sock, ["x", f"the VM failed: {type(exc).__name__}: {exc}"])
            except OSError:
                pass
        finally:
            _RUN.sock = None
            sock.close()
            os.close(fds[1])
            os.close(fds[2])
        control.sendmsg([json.dumps({"op": "done"}).encode()])
