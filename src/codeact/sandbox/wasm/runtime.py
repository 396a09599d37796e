"""The process-wide Wasm runtime: one engine, one compiled guest, one linker, one epoch ticker.

Host functions are defined once on the linker (`host_imports`); each call finds the
execution it belongs to through a thread-local (a store runs on one thread at a time). Time
is enforced with epochs: a ticker thread advances the engine's epoch every `TICK` seconds
while anything runs, and each store's deadline callback (run on the store's own thread)
decides to trap or to go on, so a deadline that moves (time spent waiting for an approval
does not count) or a cancellation from another thread never has to touch the store itself.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import wasmtime
from wasmtime import WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime.component import Component, Func, Linker

from ...policy.mounts import OUTPUT_PATH, folder_path, open_granted_folder
from .. import forks
from ..artifacts import new_output_dir, remove_output_dir
from .build import Progress, _stderr_progress, compiled_guest_path, load_component
from .clock import refuse_clock_waits
from .engine import make_engine
from .fastcall import call_string_export
from .held_signals import signals_held
from .host_imports import (
    OutputSink,
    define_imports,
    host_failed,
    no_finalizer,
    on_epoch_deadline,
)
from .prefault import SlotTracker, address_space, learn, new_reservation
from .trap_signals import TrapSignals

__all__ = ["TICK", "Preopen", "Prepared", "WasmRuntime", "ticks_until"]

TICK = 0.005  # seconds per epoch tick
_ENGINE_KEY = "epoch_interruption=1"
_EXECUTOR = "codeact:sandbox/executor@0.1.0"
_WARMUP = '{"warmup": "rows"}'  # the guest's own program: faults in what programs touch
_PROBE = '{"warmup": true}'  # what `prefault.learn` runs: a program calling a tool


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


@dataclass
class Prepared:
    """A fresh guest instance, ready to run exactly one program.

    `output_dir`: the host directory preopened as its /output (removed by `close`)."""

    store: wasmtime.Store
    run: Func
    output: OutputSink
    output_dir: str | None = None
    slots: SlotTracker | None = None  # what copies its memory's slot in again once freed

    def close(self) -> None:
        try:
            with signals_held():  # closing the store calls back into Python (finalizers)
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
    #: Opened without following any link (`open_granted_folder`), as a granted folder is;
    #: False for folders of our own that no program can change (the package tree, /output).
    exact: bool = True


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
        define_imports(self.linker)
        # Waits on WASI's clock would block a host thread past the deadline: refused.
        refuse_clock_waits(self.linker, self.component, self.engine, host_failed)
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
                [*preopens, Preopen(output_dir, OUTPUT_PATH, True, exact=False)], warm=warm
            )
        except BaseException:
            remove_output_dir(output_dir)
            raise
        prepared.output_dir = output_dir
        return prepared

    def instantiate(self, preopens: Sequence[Preopen] = (), *, warm: bool = True) -> Prepared:
        """A new store and guest instance with only `preopens` granted; warmed up if asked."""
        with signals_held():  # instantiating calls back into Python
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
        output = OutputSink()
        wasi = wasmtime.WasiConfig()
        wasi.stdout_custom = output.stdout
        wasi.stderr_custom = output.stderr
        for p in preopens:
            _preopen(wasi, p)
        store.set_wasi(wasi)
        store.set_epoch_deadline(1)
        ffi.wasmtime_store_epoch_deadline_callback(
            store.ptr(), on_epoch_deadline, None, no_finalizer
        )
        instance = self.linker.instantiate(store, self.component)
        if slots is not None:
            slots.taken()
        run = instance.get_func(store, self._run_index)
        if run is None:
            _close_store(store, slots)
            raise WasmtimeError("the guest instance has no executor.run")
        return Prepared(store=store, run=run, output=output, slots=slots)


def _preopen(wasi: wasmtime.WasiConfig, p: Preopen) -> None:
    """Grant `p`: wasmtime opens the folder now and keeps it open. A granted folder is
    opened by us first, without following links, and handed over as that descriptor's
    /proc path, so the folder preopened is the one checked (a program with a read-write
    mount above it cannot swap its path for a link meanwhile)."""
    if not p.exact:
        wasi.preopen_dir(p.host, p.guest, fs_mutable=p.writable)
        return
    fd = open_granted_folder(p.host)
    try:
        wasi.preopen_dir(folder_path(fd) or p.host, p.guest, fs_mutable=p.writable)
    finally:
        os.close(fd)


def ticks_until(deadline: float) -> int:
    """Whole epoch ticks from now until `deadline` (monotonic seconds), at least 0."""
    return max(0, math.ceil((deadline - time.monotonic()) / TICK))


forks.on_fork_in_child(WasmRuntime.forget_shared)
