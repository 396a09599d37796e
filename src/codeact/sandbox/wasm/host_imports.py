"""The guest's imports on the host: tool calls, sleeps, output, HTTP, and the epoch callback.

They are defined once on the process's linker (`define_imports`); each call finds the
execution its store is running through a thread-local (`set_current`: a store runs on one
thread at a time). Every function here is called from C, by wasmtime: none may let an
exception out (ctypes would hand wasmtime an undefined return value). The tool-call
trampolines catch theirs (`fastcall`); the epoch callback and the output sink catch their
own, tell the execution (`host_failed`), and stop the run or drop the write.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Literal, Protocol

from wasmtime import _ffi as ffi
from wasmtime.component import Linker

from .fastcall import add_host_function

__all__ = [
    "HostCalls",
    "OutputSink",
    "current_execution",
    "define_imports",
    "host_failed",
    "no_finalizer",
    "on_epoch_deadline",
    "set_current",
    "split_call",
]

#: A running store re-checks cancellation, and whether it holds too many of the host's
#: descriptors (a guest opens one in about 30 us), at least every 10 ms.
_CHECK_TICKS = 2
_STR2: tuple[Literal["string"], Literal["string"]] = ("string", "string")


class HostCalls(Protocol):
    """What the guest's imports reach: the execution a store is running."""

    def dispatch(self, name: str, args_json: str) -> tuple[bool, str]: ...
    def start_call(self, name: str, args_json: str) -> int | str: ...
    def wait_calls(self, timeout_ms: int) -> str: ...
    def sleep(self, ms: int) -> None: ...
    def write_output(self, stream: int, text: str) -> None: ...
    def http_request(self, request_json: str) -> tuple[bool, str]: ...
    def write_raw(self, stream: int, data: bytes) -> None: ...
    def check_time(self) -> int | None: ...
    def host_failed(self, exc: BaseException) -> None: ...


_local = threading.local()


def current_execution() -> HostCalls | None:
    execution: HostCalls | None = getattr(_local, "execution", None)
    return execution


def set_current(execution: HostCalls | None) -> None:
    _local.execution = execution


_NO_TOOLS = '{"kind": "unknown", "message": "there are no tools during warm-up"}'
_MALFORMED_CALL = '{"kind": "invalid", "message": "not a tool call: <name length> <name><JSON>"}'


# Host functions: each finds the execution its store is running through the thread-local.
# The pool's warm-up run has none: its one tool call is refused, and it only writes output.
def _dispatch(request: str) -> str:
    execution = current_execution()
    if execution is None:
        return "e" + _NO_TOOLS
    call = split_call(request)
    if call is None:
        return "e" + _MALFORMED_CALL
    ok, payload = execution.dispatch(*call)
    return ("o" if ok else "e") + payload


def split_call(request: str) -> tuple[str, str] | None:
    """The tool's name and its JSON arguments from a guest's `dispatch` request
    ("<length of the name> <name><arguments>"), or None if it is not one."""
    head, space, _ = request[:24].partition(" ")
    if not space or not head.isascii() or not head.isdigit() or len(head) > 12:
        return None
    size = int(head)
    start = len(head) + 1
    if start + size > len(request):
        return None
    return request[start : start + size], request[start + size :]


def _start_call(name: str, args_json: str) -> tuple[bool, int | str]:
    execution = current_execution()
    if execution is None:
        return (False, _NO_TOOLS)
    started = execution.start_call(name, args_json)
    return (True, started) if isinstance(started, int) else (False, started)


def _wait_calls(timeout_ms: int) -> str:
    execution = current_execution()
    return "[]" if execution is None else execution.wait_calls(timeout_ms)


def _sleep(ms: int) -> None:
    execution = current_execution()
    if execution is not None:
        execution.sleep(ms)


def _write_output(stream: int, text: str) -> None:
    execution = current_execution()
    if execution is not None:
        execution.write_output(stream, text)


def _http_request(request_json: str) -> tuple[bool, str]:
    execution = current_execution()
    if execution is None:
        return (False, '{"kind": "denied", "message": "there is no network during warm-up"}')
    return execution.http_request(request_json)


def host_failed(exc: BaseException) -> None:
    """Tell the execution this thread runs that serving its guest failed (never raises)."""
    _tell(current_execution(), exc)


def _tell(execution: HostCalls | None, exc: BaseException) -> None:
    if execution is None:
        return
    try:
        execution.host_failed(exc)
    except BaseException:  # called from C, through wasmtime: nothing may raise
        pass


@ctypes.CFUNCTYPE(  # type: ignore[untyped-decorator]
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t),
)
def on_epoch_deadline(_ctx: Any, _data: Any, delta: Any, kind: Any) -> int:
    """Runs on the store's thread when its epoch deadline passes: trap, or go on.

    Nothing may raise out of it: ctypes would then hand wasmtime an undefined value as the
    error pointer, which wasmtime frees (the whole process aborts). A check that fails stops
    the run instead, and the execution is told why."""
    try:
        kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
        execution = current_execution()
        ticks = 1_000_000 if execution is None else execution.check_time()
        if ticks is not None:
            delta[0] = max(1, min(ticks, _CHECK_TICKS))
            return 0
        message = b"codeact: execution stopped (time limit or cancelled)"
    except BaseException as exc:
        host_failed(exc)
        message = b"codeact: the host's time check failed; execution stopped"
    err = ffi.wasmtime_error_new(message)
    return ctypes.cast(err, ctypes.c_void_p).value or 0


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def no_finalizer(_data: Any) -> None:
    return None


class OutputSink:
    """The WASI stdout/stderr of one store: raw writes to fd 1 and 2 reach the execution."""

    def __init__(self) -> None:
        self.execution: HostCalls | None = None

    def stdout(self, data: bytes) -> int:
        return self._write(1, data)

    def stderr(self, data: bytes) -> int:
        return self._write(2, data)

    def _write(self, stream: int, data: bytes) -> int:
        # Called from C (wasmtime-py's callback catches Exception only): nothing may raise.
        execution = self.execution
        if execution is None:
            return len(data)
        try:
            execution.write_raw(stream, data)
        except BaseException as exc:
            _tell(execution, exc)
        return len(data)


def define_imports(linker: Linker) -> None:
    """Define every import of the guest's world on `linker` (WASI aside)."""
    with linker.root() as root:
        with root.add_instance("codeact:sandbox/tools@0.1.0") as tools:
            add_host_function(tools, "dispatch", _dispatch, ("string",), "string", host_failed)
        with root.add_instance("codeact:sandbox/host@0.1.0") as host:
            add_host_function(
                host, "start-call", _start_call, _STR2, "result<u32,string>", host_failed
            )
            add_host_function(host, "wait-calls", _wait_calls, ("s64",), "string", host_failed)
            add_host_function(host, "sleep", _sleep, ("u64",), "none", host_failed)
            add_host_function(
                host, "write-output", _write_output, ("u8", "string"), "none", host_failed
            )
            add_host_function(
                host,
                "http-request",
                _http_request,
                ("string",),
                "result<string,string>",
                host_failed,
            )
