"""The process-wide Wasm runtime: one engine, one compiled guest, one linker, one epoch ticker.

Host functions are defined once on the linker; each call finds the execution it belongs to
through a thread-local (a store runs on one thread at a time). Time is enforced with epochs:
a ticker thread advances the engine's epoch every `TICK` seconds while anything runs, and each
store's deadline callback (run on the store's own thread) decides to trap or to go on, so a
deadline that moves (time spent waiting for an approval does not count) or a cancellation from
another thread never has to touch the store itself.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import wasmtime
from wasmtime import WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime.component import Component, Func, Linker

from ...policy.mounts import OUTPUT_PATH
from .. import forks
from ..artifacts import new_output_dir, remove_output_dir
from .build import Progress, _stderr_progress, compiled_guest_path, load_component
from .clock import refuse_clock_waits
from .engine import make_engine
from .fastcall import add_host_function, call_string_export
from .prefault import SlotTracker, address_space, learn, new_reservation
from .trap_signals import TrapSignals

__all__ = [
    "TICK",
    "HostCalls",
    "Preopen",
    "Prepared",
    "WasmRuntime",
    "current_execution",
    "set_current",
]

TICK = 0.005  # seconds per epoch tick
_CHECK_TICKS = 10  # a running store re-checks cancellation at least every 50 ms
_ENGINE_KEY = "epoch_interruption=1"
_EXECUTOR = "codeact:sandbox/executor@0.1.0"
_STR2: tuple[Literal["string"], Literal["string"]] = ("string", "string")
_WARMUP = '{"warmup": "rows"}'  # the guest's own program: faults in what programs touch
_PROBE = '{"warmup": true}'  # what `prefault.learn` runs: a program calling a tool


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


def _host_failed(exc: BaseException) -> None:
    execution = current_execution()
    if execution is not None:
        execution.host_failed(exc)


@ctypes.CFUNCTYPE(  # type: ignore[untyped-decorator]
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t),
)
def _on_epoch_deadline(_ctx: Any, _data: Any, delta: Any, kind: Any) -> int:
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
        try:
            _host_failed(exc)
        except BaseException:
            pass
        message = b"codeact: the host's time check failed; execution stopped"
    err = ffi.wasmtime_error_new(message)
    return ctypes.cast(err, ctypes.c_void_p).value or 0


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _no_finalizer(_data: Any) -> None:
    return None


class _EpochTicker:
    """Advances the engine's epoch every TICK seconds while executions run.

    It keeps ticking for `LINGER` seconds after the last one ends, so that a stream of short
    executions does not pay for waking it each time; then it sleeps until the next one.
    """

    LINGER = 1.0

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._users = 0
        self._last_release = 0.0
        self._sleeping = True
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        with self._cond:
            self._users += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="codeact-epoch", daemon=True)
                self._thread.start()
            if self._sleeping:
                self._cond.notify()

    def release(self) -> None:
        with self._cond:
            self._users -= 1
            self._last_release = time.monotonic()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._users <= 0 and time.monotonic() - self._last_release > self.LINGER:
                    self._sleeping = True
                    self._cond.wait()
                self._sleeping = False
            time.sleep(TICK)
            self._engine.increment_epoch()


class _OutputSink:
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
            try:
                execution.host_failed(exc)
            except BaseException:
                pass
        return len(data)


@dataclass
class Prepared:
    """A fresh guest instance, ready to run exactly one program.

    `output_dir`: the host directory preopened as its /output (removed by `close`)."""

    store: wasmtime.Store
    run: Func
    output: _OutputSink
    output_dir: str | None = None
    slots: SlotTracker | None = None  # what copies its memory's slot in again once freed

    def close(self) -> None:
        try:
            _close_store(self.store, self.slots)
        finally:
            if self.output_dir is not None:
                remove_output_dir(self.output_dir)
                self.output_dir = None


def _close_store(store: wasmtime.Store, slots: SlotTracker | None) -> None:
    """Close a store (its instance's memory slot goes back to the pool), through `slots`
    where it tracks the pool's slots, so that the slot is copied in again."""
    if slots is not None:
        slots.release(store.close)
    else:
        store.close()


@dataclass(frozen=True)
class Preopen:
    """A host directory the guest sees at `guest` (capability-based: nothing outside it)."""

    host: str
    guest: str
    writable: bool


class WasmRuntime:
    """Engine, compiled guest and linker, shared by every WasmBackend in the process."""

    _shared: WasmRuntime | None = None
    _shared_lock = threading.Lock()

    #: Whether this process ran a program (set by the backend); in a forked child, whether
    #: its parent had (`forked_after_programs`): then wasmtime's own threads for WASI file
    #: I/O, started in the parent, are missing, and a program's file I/O waits forever.
    programs_ran = False
    forked_after_programs = False

    @classmethod
    def forget_shared(cls) -> None:
        """In a forked child: the next `shared()` makes the child's own runtime (an engine
        with its own epoch ticker; the parent's ticker thread is not in the child)."""
        cls._shared = None
        cls._shared_lock = threading.Lock()
        cls.forked_after_programs = cls.forked_after_programs or cls.programs_ran

    @classmethod
    def shared(cls, progress: Progress | None = _stderr_progress) -> WasmRuntime:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls(progress=progress)
            return cls._shared

    def __init__(self, *, progress: Progress | None = _stderr_progress) -> None:
        before = address_space()
        self.engine, pooled = make_engine()
        memories = new_reservation(before) if pooled else None
        self.trap_signals = TrapSignals()  # wasmtime's handlers, installed with the engine
        self.component: Component = load_component(self.engine, _ENGINE_KEY, progress=progress)
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        with self.linker.root() as root:
            with root.add_instance("codeact:sandbox/tools@0.1.0") as tools:
                add_host_function(tools, "dispatch", _dispatch, ("string",), "string", _host_failed)
            with root.add_instance("codeact:sandbox/host@0.1.0") as host:
                add_host_function(
                    host, "start-call", _start_call, _STR2, "result<u32,string>", _host_failed
                )
                add_host_function(host, "wait-calls", _wait_calls, ("s64",), "string", _host_failed)
                add_host_function(host, "sleep", _sleep, ("u64",), "none", _host_failed)
                add_host_function(
                    host, "write-output", _write_output, ("u8", "string"), "none", _host_failed
                )
                add_host_function(
                    host,
                    "http-request",
                    _http_request,
                    ("string",),
                    "result<string,string>",
                    _host_failed,
                )
        # Waits on WASI's clock would block a host thread past the deadline: refused.
        refuse_clock_waits(self.linker, self.component, self.engine, _host_failed)
        executor = self.component.get_export_index(_EXECUTOR)
        run = self.component.get_export_index("run", executor)
        if run is None:
            raise WasmtimeError("the guest component does not export executor.run")
        self._run_index = run
        self.ticker = _EpochTicker(self.engine)
        self.slots = learn(
            lambda: self._new_instance(()),
            lambda probe: call_string_export(probe.run, probe.store, _PROBE),
            Prepared.close,
            str(compiled_guest_path(_ENGINE_KEY)),
            memories,
        )

    def instantiate_with_output(
        self, preopens: Sequence[Preopen] = (), *, warm: bool = True
    ) -> Prepared:
        """`instantiate` plus a new empty host directory preopened read-write at /output."""
        output_dir = new_output_dir()
        try:
            prepared = self.instantiate(
                [*preopens, Preopen(output_dir, OUTPUT_PATH, True)], warm=warm
            )
        except BaseException:
            remove_output_dir(output_dir)
            raise
        prepared.output_dir = output_dir
        return prepared

    def instantiate(self, preopens: Sequence[Preopen] = (), *, warm: bool = True) -> Prepared:
        """A new store and guest instance with only `preopens` granted; warmed up if asked."""
        prepared = self._new_instance(preopens, self.slots)
        try:
            if warm:
                # The first call into a fresh instance pays for faulting in the rest of its
                # memory; pay it here, off the caller's path, with a program of our own.
                call_string_export(prepared.run, prepared.store, _WARMUP)
        except BaseException:
            prepared.close()
            raise
        return prepared

    def _new_instance(
        self, preopens: Sequence[Preopen], slots: SlotTracker | None = None
    ) -> Prepared:
        store = wasmtime.Store(self.engine)
        output = _OutputSink()
        wasi = wasmtime.WasiConfig()
        wasi.stdout_custom = output.stdout
        wasi.stderr_custom = output.stderr
        for p in preopens:
            wasi.preopen_dir(p.host, p.guest, fs_mutable=p.writable)
        store.set_wasi(wasi)
        store.set_epoch_deadline(1)
        ffi.wasmtime_store_epoch_deadline_callback(
            store.ptr(), _on_epoch_deadline, None, _no_finalizer
        )
        instance = self.linker.instantiate(store, self.component)
        if slots is not None:
            slots.taken()
        run = instance.get_func(store, self._run_index)
        if run is None:
            _close_store(store, slots)
            raise WasmtimeError("the guest instance has no executor.run")
        return Prepared(store=store, run=run, output=output, slots=slots)


def ticks_until(deadline: float) -> int:
    """Whole epoch ticks from now until `deadline` (monotonic seconds), at least 0."""
    return max(0, math.ceil((deadline - time.monotonic()) / TICK))


forks.on_fork_in_child(WasmRuntime.forget_shared)
