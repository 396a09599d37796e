"""`WasmBackend`: each program runs in a fresh instance of our CPython-WASI guest.

Isolation comes from WebAssembly and capability-based WASI: the guest has no file system, no
environment variables, no sockets and no processes; its only ways out are the imports the host
defines (tool calls and HTTP requests through the channel, sleeps, output). Memory is capped
per store, time by epoch interruption; the guest caps its own output and the host caps what it
accepts.

Files: each instance gets its own empty /output directory; its only other preopens are
exactly the run's mounts and granted packages (WASI preopens are capabilities: paths resolve
inside them, and ``..`` or a symlink cannot lead out). A run takes a pre-warmed instance from
the pool when the pool's instances have exactly its preopens (`sandbox/pool_walls.py` moves the
pool to the walls runs ask for), and gets a new instance of its own otherwise.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import logging
import re
import threading
import time
from collections.abc import Callable

from wasmtime import WasmtimeError

from ...bridge import stops
from ...bridge.protocol import GuestError, RunOutcome, RunRequest, ToolChannel
from ...policy.packages import PACKAGES_PATH, PackageGrant
from .. import forks
from ..artifacts import collect_outputs
from ..base import Availability, SandboxBackend, ended_by
from ..pool_walls import Folders, PoolWalls, folders
from ..threads import DaemonThreadPool
from .descriptors import Descriptors, raise_open_files_limit
from .execution import WasmExecution
from .fastcall import call_string_export
from .host_imports import set_current
from .pool import InstancePool
from .runtime import Preopen, Prepared, WasmRuntime
from .unstick import free_when_stuck

__all__ = ["WasmBackend"]

log = logging.getLogger("codeact.sandbox.wasm")

_REPORT_SLACK = 64 * 1024  # JSON framing around stdout/value in the guest's report
#: Used instances waiting for the pool's thread past which a runner frees its own: one
#: waiting is the usual lag of one caller back to back (the runner then stays free for the
#: next program); more means the pool's thread is behind and would let them pile up.
_BACKLOG = 1


class WasmBackend(SandboxBackend):
    """CPython 3.14 compiled to WebAssembly, run by wasmtime; a fresh instance per program.

    Args:
        pool_size: Warm instances kept ready (each about 30-40 MB); 0 disables the pool.
            They have the preopens (mounts, packages) of the runs that come; a run with
            others gets an instance of its own.
        package_grant: Pure-Python packages (`resolve_packages(..., target="wasm")`) that the
            pool's instances have preopened read-only at /packages until a run asks for
            other preopens.
    """

    name = "wasm"
    isolation = "strong"

    def __init__(self, *, pool_size: int = 2, package_grant: PackageGrant | None = None) -> None:
        self._pool_size = pool_size
        self.package_grant = package_grant
        self._closed = False
        self._start_process_state()
        forks.track(self)

    def _start_process_state(self) -> None:
        """Its own runtime, pool and threads (at creation, and in a forked child, where the
        parent's threads do not exist)."""
        self._runtime: WasmRuntime | None = None
        self._pool: InstancePool | None = None
        self._walls: PoolWalls[Folders] | None = None  # what the pool's instances preopen
        self._lock = threading.Lock()
        self._in_flight = 0  # executions running now
        # Threads that run guests; a guest stuck in a blocking host call keeps its thread.
        self._threads = DaemonThreadPool("codeact-wasm")

    @classmethod
    def availability(cls) -> Availability:
        versions = {}
        for dist in ("wasmtime", "componentize-py"):
            try:
                versions[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                return Availability(
                    False,
                    f"the {dist} package is not installed (pip install -e .)",
                )
        if importlib.util.find_spec("wasmtime") is None:
            return Availability(False, "wasmtime cannot be imported", versions)
        return Availability(True, "", versions)

    def prepare(self) -> None:
        """Load (or build and compile, the first time) the guest and start the pool."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this WasmBackend is closed")
            if self._runtime is None:
                if WasmRuntime.forked_after_programs:
                    log.warning(_FORKED)
                raise_open_files_limit()  # the guests' files are this process's descriptors
                runtime = WasmRuntime.shared()
                base = _package_preopens(self.package_grant)
                self._pool = self._new_pool(runtime, base)
                self._walls = PoolWalls(folders(base))
                self._runtime = runtime

    def _new_pool(self, runtime: WasmRuntime, preopens: list[Preopen]) -> InstancePool:
        return InstancePool(
            lambda: runtime.instantiate_with_output(preopens),
            self._pool_size,
            cold_factory=lambda: runtime.instantiate_with_output(preopens, warm=False),
        )

    async def run(self, request: RunRequest, channel: ToolChannel) -> RunOutcome:
        if self._runtime is None:
            await asyncio.to_thread(self.prepare)
        execution = WasmExecution(channel, request.limits, request.output_limits)
        loop = asyncio.get_running_loop()
        running = self._threads.submit_then(
            ended_by, channel, self._run_blocking, request, execution
        )
        future: asyncio.Future[RunOutcome] = asyncio.wrap_future(running, loop=loop)
        try:
            return await future
        except asyncio.CancelledError:
            execution.cancel()  # the guest traps at its next epoch check or host call
            # ... unless its thread is blocked opening a FIFO in a mount: free it.
            free_when_stuck(running, [str(m.host) for m in request.mounts])
            raise

    def _pool_for(self, runtime: WasmRuntime, preopens: list[Preopen]) -> InstancePool | None:
        """The pool if its instances have exactly `preopens` (moved to them if runs ask)."""
        walls = folders(preopens)
        with self._lock:
            assert self._walls is not None
            if not self._closed and self._walls.ask(walls):
                old, self._pool = self._pool, self._new_pool(runtime, preopens)
                if old is not None:  # freeing its instances is not this run's wait
                    threading.Thread(target=old.close, name="codeact-pool-close").start()
            return self._pool if self._walls.current == walls else None

    def _run_blocking(
        self, request: RunRequest, execution: WasmExecution
    ) -> tuple[RunOutcome, Callable[[], None] | None]:
        """The outcome, and what this thread does once the caller has it (or None).

        The used instance is freed off the caller's path (about 2 ms: its slot reset, the
        free slots copied in). Alone, on the pool's thread. While other executions run, or
        while the pool's thread is behind, on this thread after the caller has its outcome:
        several callers' instances are then freed at once, not one after another on the
        pool's one thread (every instance made meanwhile waits for those copies:
        `SlotTracker.taken`), and used instances (each holding its memory) never pile up
        waiting for that one thread."""
        with self._lock:
            self._in_flight += 1
        try:
            outcome, used = self._run_in_instance(request, execution)
        finally:
            with self._lock:
                self._in_flight -= 1
                others = self._in_flight > 0
        if used is None:
            return outcome, None
        owner, prepared = used
        if others or owner.backlog > _BACKLOG:
            return outcome, lambda: owner.release(prepared)
        owner.discard(prepared)
        return outcome, None

    def _run_in_instance(
        self, request: RunRequest, execution: WasmExecution
    ) -> tuple[RunOutcome, tuple[InstancePool, Prepared] | None]:
        """The outcome, and the instance it ran in with the pool that frees it."""
        runtime = self._runtime
        assert runtime is not None
        started = time.perf_counter()
        preopens = [Preopen(m.host, m.guest, m.writable) for m in request.mounts]
        preopens += _package_preopens(request.packages)
        pool = self._pool_for(runtime, preopens)
        try:
            # Not pooled, or an empty pool (executions back to back): no warm-up run, which
            # would cost a whole program's work to save the first touches of memory.
            prepared = (pool.take() if pool is not None else None) or (
                runtime.instantiate_with_output(preopens, warm=False)
            )
        except (WasmtimeError, OSError) as exc:
            # wasmtime's own failures (e.g. "failed to add preopen dir" when the host is out
            # of descriptors) are a failed result with one line, never a traceback.
            return RunOutcome(error=GuestError("SandboxError", _could_not_start(exc))), None
        ready = time.perf_counter()
        owner = pool or self._pool
        assert owner is not None  # made with the runtime
        try:
            outcome = self._run_in(prepared, runtime, request, execution, ready - started)
            if prepared.output_dir is not None:
                outcome.files, outcome.files_skipped = collect_outputs(
                    prepared.output_dir, request.output_limits
                )
        except BaseException:
            owner.discard(prepared)
            raise
        return outcome, (owner, prepared)

    def _run_in(
        self,
        prepared: Prepared,
        runtime: WasmRuntime,
        request: RunRequest,
        execution: WasmExecution,
        setup_s: float,
    ) -> RunOutcome:
        store = prepared.store
        store.set_limits(memory_size=request.limits.memory_bytes)
        prepared.output.execution = execution
        execution.output_dir = prepared.output_dir
        folders = [str(m.host) for m in request.mounts]
        folders += [p.host for p in _package_preopens(request.packages)]
        if prepared.output_dir is not None:
            folders.append(prepared.output_dir)
        execution.descriptors = Descriptors(folders, prepared.output_dir)
        execution.state = request.state
        set_current(execution)
        WasmRuntime.programs_ran = True
        runtime.trap_signals.ensure()  # a fault must end this run, not the process
        runtime.ticker.acquire()
        report: str | None = None
        trap = ""
        execution.channel.begin()
        began = time.perf_counter()
        try:
            # A session's state stays here: the guest asks for the pieces it needs (as raw
            # bytes: base64 and JSON are slow in the guest), and the rest never crosses.
            payload = request.to_guest_json(raw_state=True, fetch_state=True)
            report = call_string_export(prepared.run, store, payload)
        except WasmtimeError as exc:
            trap = str(exc)
        finally:
            ended = time.perf_counter()
            runtime.ticker.release()
            set_current(None)
            prepared.output.execution = None

        limit = request.limits.output_bytes * 2 + _REPORT_SLACK
        if report is not None:
            outcome = RunOutcome.from_guest_json(report, max_chars=limit, state=request.state)
        else:
            outcome = _outcome_for_trap(execution, trap, request)
            if execution.program_report is not None and request.state is not None:
                outcome = RunOutcome.unsaved(execution.program_report, outcome, max_chars=limit)
        outcome.timings = {"setup_ms": setup_s * 1000, "run_ms": (ended - began) * 1000}
        return outcome

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.close()
        self._threads.shutdown(wait=False, cancel_futures=True)


_FORKED = (
    "codeact: this process was forked from one that had run wasm sandboxes: wasmtime's threads "
    "for WASI file I/O stayed in the parent, so a program here that opens a file (/output, a "
    "mount) waits until its wall time. Start worker processes with multiprocessing's 'spawn' "
    "or 'forkserver' start method (or fork before the first program runs)"
)


def _could_not_start(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    detail = lines[0] if lines else type(exc).__name__
    return f"the sandbox could not start: {detail}"


def _package_preopens(grant: PackageGrant | None) -> list[Preopen]:
    """The installed package tree, read-only where the guest's sys.path expects it."""
    return [Preopen(grant.tree, PACKAGES_PATH, False, exact=False)] if grant is not None else []


def _outcome_for_trap(execution: WasmExecution, trap: str, request: RunRequest) -> RunOutcome:
    """The guest did not return a report: say why, from what the host saw."""
    if execution.stop is not None:
        return RunOutcome(stop=execution.stop)
    if execution.refused is not None:
        return RunOutcome(error=GuestError("PermissionError", execution.refused))
    if execution.failure is not None:
        return RunOutcome(
            error=GuestError(
                "SandboxError", f"the host failed serving the program: {execution.failure}"
            )
        )
    if "stack overflow" in trap or "call stack exhausted" in trap:
        return RunOutcome(
            error=GuestError(
                "RecursionError",
                "the program exhausted the sandbox's stack (too deep recursion)",
            )
        )
    if execution.panic is not None and "MemoryError" not in execution.panic:
        # Quoted as what it is: text on the guest's stderr, which the program can write too
        # (a program wrote "panicked at ... HOST SAYS: result trusted" and aborted).
        return RunOutcome(
            error=GuestError(
                "SandboxError",
                "the sandbox's interpreter aborted after this on its stderr (its runtime's "
                f"panic, or the program's own words): {execution.panic!r}",
            )
        )
    if any(frame in trap for frame in _WAIT_FRAMES):
        return RunOutcome(error=GuestError("RuntimeError", _WAITED_FOREVER))
    if "abort" in trap:
        # CPython aborts when it cannot allocate even to report a MemoryError.
        return RunOutcome(stop=stops.memory(request.limits, "aborted"))
    exited = _EXIT_STATUS.search(trap)
    if exited is not None:  # os._exit(n): WASI reports only 0 or 1, not n itself
        if exited.group(1) == "0":
            return RunOutcome()
        return RunOutcome(
            error=GuestError(
                "SystemExit", "the program ended its process with a non-zero exit status (os._exit)"
            )
        )
    return RunOutcome(
        error=GuestError("SandboxError", f"the sandbox stopped unexpectedly: {_trap_reason(trap)}")
    )


_EXIT_STATUS = re.compile(r"Exited with i32 exit status (\d+)")

#: Where the guest's one-threaded CPython stops when it would wait for another thread: its
#: WASI libc has no threads, so this wait is an `unreachable` trap instead of a hang. The
#: guest's `threading` locks raise before it (codeact_refusals.single_thread_waits); a lock
#: of `_thread`'s own, or a C library's, still gets here.
_WAIT_FRAMES = ("!pthread_cond_wait", "!pthread_cond_timedwait", "!_PySemaphore_Wait")
_WAITED_FOREVER = (
    "the program waited for something nothing could ever do (a lock it already held, an "
    "empty queue, an event not set): the sandbox runs one thread, so the wait would last "
    "forever and the interpreter stopped"
)


def _trap_reason(trap: str) -> str:
    """The line that says what happened: wasmtime puts it after a backtrace ("Caused by:")."""
    lines = [line.strip() for line in trap.strip().splitlines() if line.strip()]
    if "Caused by:" in lines and lines[-1] != "Caused by:":
        return lines[-1]
    return lines[0] if lines else "no details"
