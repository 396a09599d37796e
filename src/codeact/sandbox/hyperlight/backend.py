"""`HyperlightBackend`: each program runs in a Hyperlight micro-VM restored from a snapshot.

The VM runs Microsoft's Wasm CPython guest (the `hyperlight-sandbox` package); our runner is
installed in it once, before the snapshot, so the guest gives programs the same contract as
every backend. A worker process owns each VM (see `worker.py` for why); tool calls, output and
the report travel the same channel as the jail's. The host kills the worker at the wall time
(the package cannot interrupt a guest) and starts a fresh one.

Isolation is the strongest we offer: a hardware-virtualized guest, with WebAssembly inside it.
It needs a hypervisor that Hyperlight can drive (KVM or MSHV on Linux, WHP on Windows), which
nested or emulated virtual machines often lack: `availability()` starts a VM once to find out.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
import time

from ...bridge.protocol import RunOutcome, RunRequest, ToolChannel
from ..base import Availability, SandboxBackend
from ..relay import Relay
from .probe import probe
from .process import DEFAULT_FACTORY, WorkerProcess

__all__ = ["HyperlightBackend"]

_DEFAULT_MEMORY_MB = 256


class HyperlightBackend(SandboxBackend):
    """A Hyperlight micro-VM per worker, restored from a snapshot before every program.

    Args:
        pool_size: Workers (each with its VM) started ahead by `prepare`.
        sandbox_factory: ``module:attr`` (or ``file.py:attr``) of the sandbox class; the
            default is ``hyperlight_sandbox:Sandbox``. Another class with the same API can
            stand in for it, e.g. in tests on machines without a hypervisor.
    """

    name = "hyperlight"
    isolation = "strongest"

    def __init__(self, *, pool_size: int = 1, sandbox_factory: str = DEFAULT_FACTORY) -> None:
        self._pool_size = max(0, pool_size)
        self._factory = sandbox_factory
        self._idle: dict[int, collections.deque[WorkerProcess]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()
        self._closed = False
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=32, thread_name_prefix="codeact-hyperlight"
        )

    @classmethod
    def availability(cls) -> Availability:
        return probe()

    def prepare(self) -> None:
        """Start `pool_size` workers, each with a VM of the default memory size."""
        with self._lock:
            missing = self._pool_size - len(self._idle[_DEFAULT_MEMORY_MB])
        for _ in range(missing):
            worker = WorkerProcess(heap_mb=_DEFAULT_MEMORY_MB, factory=self._factory)
            self._give_back(worker)

    def _take(self, memory_mb: int) -> WorkerProcess:
        with self._lock:
            if self._closed:
                raise RuntimeError("this HyperlightBackend is closed")
            idle = self._idle[memory_mb]
            while idle:
                worker = idle.popleft()
                if worker.alive:
                    return worker
                worker.close()
        return WorkerProcess(heap_mb=memory_mb, factory=self._factory)

    def _give_back(self, worker: WorkerProcess) -> None:
        with self._lock:
            if not self._closed:
                self._idle[worker.heap_mb].append(worker)
                return
        worker.close()

    async def run(self, request: RunRequest, channel: ToolChannel) -> RunOutcome:
        relay_box: list[Relay] = []
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._threads, self._run_blocking, request, channel, relay_box
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if relay_box:
                relay_box[0].cancel()  # kills the worker; its VM dies with it
            raise

    def _run_blocking(
        self, request: RunRequest, channel: ToolChannel, relay_box: list[Relay]
    ) -> RunOutcome:
        started = time.perf_counter()
        worker = self._take(request.limits.memory_mb)
        run = worker.begin_run()
        ready = time.perf_counter()
        reusable = False
        try:
            relay = Relay(
                sock=run.sock,
                stdout_fd=run.stdout_fd,
                stderr_fd=run.stderr_fd,
                channel=channel,
                limits=request.limits,
                kill=worker.kill,
                exit_status=worker.exit_status,
            )
            relay_box.append(relay)
            channel.begin()
            began = time.perf_counter()
            outcome = relay.serve({"run": request.to_guest_json()})
            ended = time.perf_counter()
            reusable = relay.finished_cleanly
        finally:
            run.close()
            if reusable and worker.end_run():
                self._give_back(worker)
            else:
                worker.close()
        outcome.timings = {"setup_ms": (ready - started) * 1000, "run_ms": (ended - began) * 1000}
        return outcome

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [w for idle in self._idle.values() for w in idle]
            self._idle.clear()
        for worker in workers:
            worker.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
