"""`HyperlightBackend`: each program runs in a Hyperlight micro-VM restored from a snapshot.

The VM runs Microsoft's Wasm CPython guest (the `hyperlight-sandbox` package); our runner is
installed in it once, before the snapshot, so the guest gives programs the same contract as
every backend. A worker process owns each VM (see `guest/hyperlight/worker.py` for why); tool
calls, output and the report travel the same wire as the jail's (`guest/wire.py`). The
host kills the worker at the wall time (the package cannot interrupt a guest) and starts a
fresh one.

Isolation is the strongest we offer: a hardware-virtualized guest, with WebAssembly inside it.
It needs a hypervisor that Hyperlight can drive (KVM or MSHV on Linux, WHP on Windows), which
nested or emulated virtual machines often lack: `availability()` starts a VM once to find out.
"""

from __future__ import annotations

import collections
import threading
import time

from ...bridge.protocol import GuestError, RunOutcome, RunRequest, ToolChannel
from .. import forks
from ..artifacts import collect_outputs
from ..base import Availability
from ..relay import Relay
from ..relay.process_backend import ProcessBackend
from ..threads import DaemonThreadPool
from .probe import probe
from .process import DEFAULT_FACTORY, WorkerProcess

__all__ = ["HyperlightBackend"]

_DEFAULT_MEMORY_MB = 256


class HyperlightBackend(ProcessBackend):
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
        self._closed = False
        self._start_process_state()
        forks.track(self)

    def _start_process_state(self) -> None:
        """Its own workers and threads (at creation, and in a forked child: the parent's
        worker processes stay the parent's)."""
        # Idle workers by (memory, /input folder): both are fixed when a VM is made.
        self._idle: dict[tuple[int, str | None], collections.deque[WorkerProcess]] = (
            collections.defaultdict(collections.deque)
        )
        self._lock = threading.Lock()
        self._threads = DaemonThreadPool("codeact-hyperlight")

    @classmethod
    def availability(cls) -> Availability:
        return probe()

    def prepare(self) -> None:
        """Start `pool_size` workers, each with a VM of the default memory size."""
        with self._lock:
            missing = self._pool_size - len(self._idle[_DEFAULT_MEMORY_MB, None])
        for _ in range(missing):
            worker = WorkerProcess(heap_mb=_DEFAULT_MEMORY_MB, factory=self._factory)
            self._give_back(worker)

    def _take(self, memory_mb: int, input_dir: str | None) -> WorkerProcess:
        with self._lock:
            if self._closed:
                raise RuntimeError("this HyperlightBackend is closed")
            idle = self._idle[memory_mb, input_dir]
            while idle:
                worker = idle.popleft()
                if worker.alive:
                    return worker
                worker.close()
        return WorkerProcess(heap_mb=memory_mb, factory=self._factory, input_dir=input_dir)

    def _give_back(self, worker: WorkerProcess) -> None:
        with self._lock:
            if not self._closed:
                self._idle[worker.heap_mb, worker.input_dir].append(worker)
                return
        worker.close()

    def _run_blocking(
        self, request: RunRequest, channel: ToolChannel, relay_box: list[Relay]
    ) -> RunOutcome:
        input_dir, problem = _input_dir(request)
        if problem:
            return RunOutcome(error=GuestError("SandboxError", problem))
        started = time.perf_counter()
        worker = self._take(request.limits.memory_mb, input_dir)
        worker.empty_output()
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
                state=request.state,
                kill=worker.kill,
                exit_status=worker.exit_status,
            )
            relay_box.append(relay)
            channel.begin()
            began = time.perf_counter()
            outcome = relay.serve({"run": request.to_guest_json()})
            ended = time.perf_counter()
            reusable = relay.finished_cleanly
            outcome.files, outcome.files_skipped = collect_outputs(
                worker.output_dir, request.output_limits
            )
        finally:
            run.close()
            if reusable and worker.end_run():
                worker.empty_output()
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


def _input_dir(request: RunRequest) -> tuple[str | None, str]:
    """The folder to show read-only at /input, or why the mounts cannot be granted here:
    hyperlight-sandbox 0.8 gives a VM one input folder (at /input) and one output folder."""
    if not request.mounts:
        return None, ""
    mount = request.mounts[0]
    if len(request.mounts) == 1 and mount.guest == "/input" and not mount.writable:
        return mount.host, ""
    granted = ", ".join(m.describe() for m in request.mounts)
    return None, (
        f"the hyperlight backend cannot grant these mounts ({granted}): a Hyperlight VM sees "
        "one read-only folder at /input (workspace_root) and /output; use the wasm or jail "
        "backend for other mounts"
    )
