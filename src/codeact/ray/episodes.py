"""Agent episodes as Ray tasks: one agent per task, so an evaluation spreads over the cluster.

`run_episodes` runs the order-totals benchmark's episodes (`codeact.bench.order_totals`)
each as its own Ray task: the task builds a chat client with `client_factory` (on the
worker: a client holds connections, it is not shipped), builds the agent and its CodeAct,
runs the task once and sends back the `RunRecord`. Records come back in submission order;
`on_run` sees each as it finishes. A task whose worker dies is a failed record, as any
failed run is, and an interrupted one (`RunRecord.interrupted`: out of the medians) with
nothing counted, as its costs stayed on the lost worker.

A task worker runs one task after another and Ray may kill it without its exit handlers:
each task runs its sandboxes on a backend of its own, closed when the task ends, and then
removes the worker's sandbox folders. Interrupted (Ctrl-C), the driver cancels the tasks
still running and waits a little for them to do so before it goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import ray
from ray.exceptions import RayTaskError

from ..bench.order_totals import MAX_TURNS, WIRINGS, RunRecord, Wiring, run_once
from ..chat.messages import ChatClient
from ..errors import UserError
from ..sandbox.artifacts import release_process_tree
from ..sandbox.registry import create_backend

__all__ = ["run_episodes"]

ClientFactory = Callable[[], ChatClient]


#: Seconds an interrupted driver waits for the cancelled tasks to remove their folders.
CANCEL_WAIT = 10.0


def _episode(factory: ClientFactory, wiring: Wiring, max_turns: int, backend: str) -> RunRecord:
    async def run() -> RunRecord:
        client = factory()
        try:
            return await run_once(wiring, client, max_turns=max_turns, backend=sandbox or backend)
        finally:
            await client.aclose()

    # Not the process's shared backend: its warm sandboxes would outlive the task.
    sandbox = create_backend(backend) if wiring == "codeact" else None
    try:
        record = asyncio.run(run())
    finally:
        if sandbox is not None:
            sandbox.close()
        release_process_tree()
    record.result = None  # the agent's full transcript stays on the worker
    return record


def run_episodes(
    client_factory: ClientFactory,
    *,
    wirings: tuple[Wiring, ...] = WIRINGS,
    runs: int = 3,
    max_turns: int = MAX_TURNS,
    backend: str = "auto",
    task_options: Mapping[str, Any] | None = None,
    on_run: Callable[[int, RunRecord], None] | None = None,
) -> list[RunRecord]:
    """`runs` episodes of each wiring, each a Ray task (Ray must be initialized).

    `client_factory` is called on the worker (e.g. ``functools.partial(OpenAIChat,
    model=..., base_url=...)``); `task_options` are Ray options for the tasks (default one
    CPU each; ``runtime_env`` to give workers the endpoint's variables).
    """
    options = {"num_cpus": 1, "max_retries": 0, **dict(task_options or {})}
    remote = ray.remote(_episode).options(**options)
    order = [wiring for _ in range(runs) for wiring in wirings]
    refs = [remote.remote(client_factory, wiring, max_turns, backend) for wiring in order]
    records: dict[int, RunRecord] = {}
    pending = {ref: i for i, ref in enumerate(refs)}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(done[0])
            records[i] = _record(done[0], order[i])
            if on_run is not None:
                on_run(len(records), records[i])
    except BaseException:  # Ctrl-C: the running tasks end, each removing its folders
        _cancel(list(pending))
        raise
    return [records[i] for i in range(len(refs))]


def _cancel(refs: list[Any]) -> None:
    for ref in refs:
        ray.cancel(ref)  # a KeyboardInterrupt in the task: its `finally` runs
    if refs:
        ray.wait(refs, num_returns=len(refs), timeout=CANCEL_WAIT)


def _record(ref: Any, wiring: Wiring) -> RunRecord:
    try:
        record: RunRecord = ray.get(ref)
    except RayTaskError as exc:
        if isinstance(exc.cause, UserError):
            raise exc.cause from None  # a mistake in the configuration, as in one process
        return RunRecord(
            wiring=wiring, correct=False, wall_s=0.0, error=f"{exc.cause}", interrupted=True
        )
    except ray.exceptions.RayError as exc:  # the worker or its node was lost
        return RunRecord(
            wiring=wiring,
            correct=False,
            wall_s=0.0,
            error=f"worker lost: {type(exc).__name__}",
            interrupted=True,
        )
    return record
