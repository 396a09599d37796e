"""The path of one execution: block approval, a ready backend, the bridge, the run, the result.

`CodeAct` gathers what an execution runs with into an `ExecutionSetup` when the execution
starts and calls `execute`; everything from there to the `ExecutionResult` is here: who
watches it (trace, listeners), the block approval, the backend made ready once per process,
the `HttpEgress`, `HostBridge` and `Supervisor`, the backend's run with its cancellation,
stops and failures, and the timings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..bridge import stops
from ..bridge.host import HostBridge
from ..bridge.http_egress import HttpEgress
from ..bridge.protocol import ExecutionStopped, GuestError, RunOutcome, RunRequest, Stop, ToolStub
from ..bridge.state import GuestState, StateCarry
from ..calls.approvals import ApprovalScope
from ..calls.block_approval import ask_block_if_needed
from ..calls.call import ProgramContext, describe_exception
from ..calls.pipeline import ToolPipeline
from ..policy.limits import Limits
from ..policy.mounts import Mount, missing_mount
from ..policy.network import AllowedDomain, NetworkLimits
from ..policy.outputs import OutputLimits
from ..policy.packages import PackageGrant
from ..sandbox.base import SandboxBackend
from ..tools import ToolSet
from ..tools.definition import ApprovalMode
from .events import EventSink, ExecutionEvent, OutputChunk
from .result import ExecutionResult, complete_timings
from .supervisor import Supervisor
from .tracing import ExecutionTrace, capture_setting, meter_for, tracer_for
from .watch import ExecutionWatch

__all__ = ["ExecutionSetup", "Running", "ensure_ready", "ensure_ready_sync", "execute"]

_log = logging.getLogger("codeact")
#: How long a finished run waits for its open approval requests to be withdrawn.
_APPROVALS_CLOSE_S = 0.5

Running = set[tuple[Supervisor, asyncio.AbstractEventLoop]]
"""The executions of one `CodeAct` that run now, for its `interrupt`."""


# Backends whose one-time work (build, compile, pool) is done in this process.
_ready_backends: weakref.WeakSet[SandboxBackend] = weakref.WeakSet()
_ready_lock = threading.Lock()


async def ensure_ready(backend: SandboxBackend) -> None:
    """Do `backend`'s one-time work (`prepare`) once per process, off the event loop."""
    if backend not in _ready_backends:
        await asyncio.to_thread(ensure_ready_sync, backend)


def ensure_ready_sync(backend: SandboxBackend) -> None:
    """`ensure_ready` for code that has no event loop (blocking)."""
    if backend in _ready_backends:
        return
    with _ready_lock:  # concurrent first executions wait for one prepare()
        if backend not in _ready_backends:
            backend.prepare()
            _ready_backends.add(backend)


@dataclass(frozen=True, eq=False)
class ExecutionSetup:
    """What one execution runs with, taken from its `CodeAct` when the execution starts.

    `tools` is the execution's own copy of the tool set; `running` is the CodeAct's set of
    executions that run now, which this one joins while its backend runs.
    """

    backend: SandboxBackend
    tools: ToolSet
    pipeline: ToolPipeline
    approval_mode: ApprovalMode
    approval_scope: ApprovalScope
    mounts: tuple[Mount, ...]
    domains: tuple[AllowedDomain, ...]
    output_limits: OutputLimits
    network_limits: NetworkLimits
    packages: PackageGrant | None
    running: Running
    tracer_provider: Any = None
    meter_provider: Any = None
    capture_content: bool | None = None


async def execute(
    code: str,
    limits: Limits,
    setup: ExecutionSetup,
    *,
    carry: StateCarry | None = None,
    on_output: Callable[[OutputChunk], Any] | None = None,
    on_event: Callable[[ExecutionEvent], Any] | None = None,
    call_id: str | None = None,
) -> tuple[ExecutionResult, GuestState | None]:
    """Run `code` once, traced and told to its listeners: the result, and the state the
    guest handed back (for a session; `carry` is the state it starts from). `call_id` is
    the span's tool-call id (the model's; a fresh one when None)."""
    watch = _watch(code, limits, setup, on_output, on_event, call_id)
    if watch is None:
        return await _run(code, limits, setup, None, carry)
    trace = watch.trace
    if trace is not None:
        trace.attach()  # current while the program runs: tools' own spans nest under it
    result: ExecutionResult | None = None
    failure: BaseException | None = None
    try:
        result, state = await _run(code, limits, setup, watch, carry)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        if trace is not None:
            trace.detach()
            trace.finish(result, failure)
    if watch.sink is not None:
        await asyncio.sleep(0)  # deliver what the sandbox's threads posted before the end
        watch.sink.finished(result)
    return result, state


def _watch(
    code: str,
    limits: Limits,
    setup: ExecutionSetup,
    on_output: Callable[[OutputChunk], Any] | None,
    on_event: Callable[[ExecutionEvent], Any] | None,
    call_id: str | None,
) -> ExecutionWatch | None:
    """Who watches this execution: its trace and listeners (None: nobody, no cost)."""
    tracer = tracer_for(setup.tracer_provider)
    sink = None
    if on_output is not None or on_event is not None:
        loop = asyncio.get_running_loop()
        sink = EventSink(loop, on_output=on_output, on_event=on_event)
    if tracer is None and sink is None:
        return None
    trace = None
    if tracer is not None:
        trace = ExecutionTrace(
            tracer,
            meter_for(setup.meter_provider),
            call_id=call_id or uuid.uuid4().hex[:16],
            backend=setup.backend.name,
            limits=limits,
            code=code,
            capture_content=capture_setting(setup.capture_content),
        )
    return ExecutionWatch(trace, sink)


async def _run(
    code: str,
    limits: Limits,
    setup: ExecutionSetup,
    watch: ExecutionWatch | None,
    carry: StateCarry | None,
) -> tuple[ExecutionResult, GuestState | None]:
    started = time.perf_counter()
    size = stops.code_size(code, limits)
    if size is not None:  # before anything reads it: the scan, the backend
        outcome = RunOutcome(stop=stops.code_too_large(limits, size))
        timings = complete_timings({"total_ms": (time.perf_counter() - started) * 1000})
        result = ExecutionResult.from_outcome(
            outcome, [], _state_timings(timings, carry), memory_mb=limits.memory_mb
        )
        return result, None
    loop = asyncio.get_running_loop()
    tools = setup.tools
    program = ProgramContext(code, run_id=os.urandom(6).hex())  # as unique as uuid4's 48 bits
    program.watcher = watch
    approval = await ask_block_if_needed(
        setup.pipeline,
        code=code,
        tools=tools,
        program=program,
        mode=setup.approval_mode,
        scope=setup.approval_scope,
        session_state=carry is not None and bool(carry.state),
    )
    if approval is not None and approval.outcome == "denied":
        denied = {"total_ms": (time.perf_counter() - started) * 1000}
        return ExecutionResult.not_approved(approval, _state_timings(denied, carry)), None
    await ensure_ready(setup.backend)  # before the bridge: its clock starts counting
    egress = HttpEgress(setup.domains, setup.network_limits)
    bridge = HostBridge(
        tools, limits, loop, pipeline=setup.pipeline, program=program, egress=egress
    )
    if watch is not None and watch.sink is not None:
        bridge.output.listener = watch.output
    request = RunRequest(
        code=code,
        tools=tuple(
            ToolStub(t.name, t.positional_params, t.guest_params, t.guest_returns, t.guest_doc)
            for t in tools
        ),
        limits=limits,
        mounts=setup.mounts,
        output_limits=setup.output_limits,
        packages=setup.packages,
        state=carry,
    )
    supervisor = Supervisor(bridge, loop)
    setup.running.add((supervisor, loop))
    backend_started = time.monotonic()
    try:
        gone = missing_mount(setup.mounts)  # one line for it, not the backend's failure
        if gone is not None:
            outcome = RunOutcome(error=GuestError("SandboxError", gone))
        else:
            outcome = await setup.backend.run(request, bridge)
    except asyncio.CancelledError:
        if supervisor.stop is None and not supervisor.interrupted:
            raise  # cancelled by our caller, not by the supervisor
        supervisor.consume_cancel()
        outcome = _stopped(supervisor)
    except ExecutionStopped as exc:  # a limit that surfaced through the backend
        outcome = RunOutcome(stop=Stop(exc.limit, exc.message))
    except Exception as exc:  # the backend failed: a failed result, never a raise
        _log.warning("codeact: the %s backend failed", setup.backend.name, exc_info=True)
        message = f"the sandbox failed: {describe_exception(exc)}"
        outcome = RunOutcome(error=GuestError("SandboxError", message))
    finally:
        backend_ended = time.monotonic()
        setup.running.discard((supervisor, loop))
        supervisor.close()
        bridge.cancel()
        egress.cancel()
        bridge.finish()
        # A request the program left waiting is gone from its handler before the result is
        # back: an answer then finds nothing to approve (`DeferredApprovals` says LookupError).
        await program.approvals_closed(_APPROVALS_CLOSE_S)
    timings = _backend_timings(outcome, bridge.began_at, backend_started, backend_ended)
    # Time spent waiting for approvals is not time spent in tools: it has its own entry.
    waited = sum(r.approval_ms for r in bridge.records)
    timings["tools_ms"] = sum(r.duration_ms for r in bridge.records) - waited
    timings["approval_ms"] = waited + (approval.approval_ms if approval is not None else 0.0)
    timings["total_ms"] = (time.perf_counter() - started) * 1000
    timings = complete_timings(timings)
    if outcome.state is not None:
        timings["state_restore_ms"] = outcome.state.restore_ms
        timings["state_save_ms"] = outcome.state.save_ms
    timings = _state_timings(timings, carry)
    result = ExecutionResult.from_outcome(
        outcome,
        list(bridge.records),
        timings,
        output=bridge.output,
        memory_mb=limits.memory_mb,
        http_requests=list(egress.records),
        approval=approval,
    )
    result.packages = setup.packages.versions() if setup.packages is not None else []
    return result, outcome.state


def _state_timings(timings: dict[str, float], carry: StateCarry | None) -> dict[str, float]:
    """A session's call (`carry`) always has both state keys: 0.0 where the guest did not
    report them (stopped, interrupted, not approved, failed before saving)."""
    if carry is not None:
        timings.setdefault("state_restore_ms", 0.0)
        timings.setdefault("state_save_ms", 0.0)
    return timings


def _backend_timings(
    outcome: RunOutcome, began_at: float | None, started: float, ended: float
) -> dict[str, float]:
    """The backend's `setup_ms` and `run_ms`: as it measured them, or, for a run it did not
    finish (stopped while a sync tool blocked, interrupted), as measured here: setup from the
    backend's start until the program began (`HostBridge.begin`), the run from then on."""
    timings = dict(outcome.timings)
    if "setup_ms" not in timings or "run_ms" not in timings:
        began = min(max(began_at, started), ended) if began_at is not None else ended
        timings.setdefault("setup_ms", (began - started) * 1000)
        timings.setdefault("run_ms", (ended - began) * 1000)
    return timings


def _stopped(supervisor: Supervisor) -> RunOutcome:
    if supervisor.stop is not None:
        return RunOutcome(stop=supervisor.stop)
    return RunOutcome(
        error=GuestError(
            "KeyboardInterrupt", "the execution was interrupted (Ctrl-C, or CodeAct.interrupt())"
        )
    )
