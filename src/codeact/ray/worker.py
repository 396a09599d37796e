"""The actor: one warm `CodeAct` per Ray worker process, executions run concurrently.

The pool starts `CodeActWorker` as an async Ray actor (``max_concurrency`` = the per-actor
limit plus room for the approval relay). Everything a program needs on the host lives
here: the tools (and the clients they hold), the sandbox backend with its warm pool and
compiled guest, middleware. What goes back to the driver is the `ExecutionResult`, with
its tool-call records (the audit), already redacted.

Approvals cross back to the driver by long polling: a gated call parks an
`ApprovalRequest` here; the pool's relay task for this actor collects it with
`next_approvals`, asks the caller's handler (in the driver process) and sends the answer
with `answer`. The CodeAct's approval timeout still bounds the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import Approval, ApprovalRequest, CodeAct, ExecutionResult, Limits
from ..bench.throughput import tree_cpu_seconds
from ..sandbox.artifacts import remove_process_tree, remove_trees_of
from .tools import ToolSpec, resolve_tools

__all__ = ["ActorInfo", "CodeActWorker", "WorkerConfig", "cpu_seconds"]


@dataclass(frozen=True)
class WorkerConfig:
    """What every actor of a pool is built from (pickled once per actor by Ray)."""

    tools: tuple[ToolSpec, ...]
    #: Keyword arguments for `codeact.CodeAct` (limits, backend, grants, middleware...).
    codeact_options: Mapping[str, Any] = field(default_factory=dict)
    #: True when the driver has an approval handler: gated calls are relayed to it.
    relay_approvals: bool = False
    #: The driver handler's name, shown in the audit as who decided.
    approver_name: str = "driver"


@dataclass(frozen=True)
class ActorInfo:
    """Where an actor runs (its process, host and Ray node) and the CPU seconds its process
    and the processes under it have used so far (all threads: sandboxes, tools, Ray's own;
    the jail backend's zygote and sandboxes)."""

    pid: int
    hostname: str
    node_id: str
    backend: str
    tools: tuple[str, ...]
    cpu_s: float


def cpu_seconds(skip: frozenset[int] = frozenset()) -> float:
    """CPU seconds of this process and those under it but `skip` (from ``/proc``; where
    there is none, this process's alone)."""
    cpu = tree_cpu_seconds(skip=skip)
    return time.process_time() if math.isnan(cpu) else cpu


class _ApprovalRelay:
    """The worker CodeAct's approval handler: parks each request until the driver answers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Approval]] = {}
        self._queue: asyncio.Queue[tuple[int, ApprovalRequest]] = asyncio.Queue()

    async def __call__(self, request: ApprovalRequest) -> Approval:
        ident = next(self._ids)
        future: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        self._queue.put_nowait((ident, request))
        try:
            return await future
        finally:  # answered, timed out or cancelled: a late answer finds nothing
            self._waiting.pop(ident, None)

    async def next_batch(self) -> list[tuple[int, ApprovalRequest]]:
        batch = [await self._queue.get()]
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return [(ident, request) for ident, request in batch if ident in self._waiting]

    def answer(self, ident: int, approval: Approval | None, failure: str | None) -> None:
        future = self._waiting.get(ident)
        if future is None or future.done():
            return
        if approval is None:  # the driver's handler raised: a denial that says so
            approval = Approval(
                False, f"the approval handler failed ({failure or 'it gave no answer'})"
            )
        future.set_result(approval)


class CodeActWorker:
    """A Ray actor holding one warm CodeAct (the pool wraps it with ``ray.remote``)."""

    def __init__(self, config: WorkerConfig) -> None:
        self._relay = _ApprovalRelay(config.approver_name) if config.relay_approvals else None
        options = dict(config.codeact_options)
        if self._relay is not None:
            options["approval_handler"] = self._relay
        self.codeact = CodeAct(tools=resolve_tools(config.tools), **options)
        # Without a handler a gated call is denied; the denial names the pool's option.
        self.codeact.pipeline.approver.advice = "pass approval_handler= to CodeActPool"
        # Build/compile (or load the node's cached guest) and warm the sandbox pool now,
        # so the first program does not pay for it.
        self.codeact.prepare_sync()

    async def info(self) -> ActorInfo:
        import ray

        return ActorInfo(
            pid=os.getpid(),
            hostname=socket.gethostname(),
            node_id=ray.get_runtime_context().get_node_id(),
            backend=self.codeact.backend.name,
            tools=tuple(t.name for t in self.codeact.tools),
            cpu_s=cpu_seconds(),
        )

    async def execute(self, code: str, limits: Limits | None = None) -> ExecutionResult:
        return await self.codeact.execute(code, limits=limits)

    async def close(self) -> None:
        """Before the pool kills this actor (no exit handler runs then): stop its sandboxes
        and remove this process's folders (each sandbox's /output)."""
        self.codeact.close()
        await asyncio.to_thread(self._release)

    def _release(self) -> None:
        with contextlib.suppress(Exception):  # the process ends next: the folders matter
            self.codeact.backend.close()
        remove_process_tree()

    async def remove_folders_of(self, pid: int) -> list[str]:
        """Remove the folders that a dead actor of this node (process `pid`) left."""
        return await asyncio.to_thread(remove_trees_of, pid)

    async def next_approvals(self) -> list[tuple[int, ApprovalRequest]]:
        """Long poll: the approval requests parked since the last call (waits for one)."""
        if self._relay is None:
            raise RuntimeError("this worker was started without an approval relay")
        return await self._relay.next_batch()

    async def answer(self, ident: int, approval: Approval | None, failure: str | None) -> None:
        if self._relay is not None:
            self._relay.answer(ident, approval, failure)
