"""Where a used wasm instance is freed (about 2 ms: its slot reset, free slots copied in).

Alone, on the pool's thread. While other executions run, on the thread that ran it, after
its caller has the outcome: two callers then free at once instead of queueing on the pool's
one thread, which every instance made meanwhile waits for (`SlotTracker.taken`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from codeact import CodeAct, tool
from codeact.sandbox.registry import backend_availability
from codeact.sandbox.wasm.pool import InstancePool

pytestmark = pytest.mark.skipif(
    not backend_availability("wasm").available, reason="the wasm backend cannot run here"
)


@pytest.fixture
def frees(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(how, thread name) of every instance freed by a backend: `discard` hands it to the
    pool's thread, `release` frees it on the calling thread."""
    seen: list[tuple[str, str]] = []
    discard, release = InstancePool.discard, InstancePool.release

    def recorded(how: str, original: Any) -> Any:
        def wrapper(self: InstancePool, prepared: Any) -> None:
            seen.append((how, threading.current_thread().name))
            original(self, prepared)

        return wrapper

    monkeypatch.setattr(InstancePool, "discard", recorded("discard", discard))
    monkeypatch.setattr(InstancePool, "release", recorded("release", release))
    yield seen


async def test_an_execution_alone_leaves_its_instance_to_the_pools_thread(
    frees: list[tuple[str, str]],
) -> None:
    codeact = CodeAct(backend="wasm")
    await codeact.prepare()
    for _ in range(3):
        await asyncio.sleep(0.05)  # apart, as a model's turns are: the pool's thread keeps up
        assert (await codeact.execute("print(1)")).ok
    assert [how for how, _ in frees] == ["discard"] * 3


async def test_with_another_running_the_runner_frees_it_after_the_caller_has_the_outcome(
    frees: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome_seen = threading.Event()
    freed_after_outcome: list[bool] = []
    release = InstancePool.release

    def release_when_seen(self: InstancePool, prepared: Any) -> None:
        # Waits for the caller: if freeing came before the outcome, this times out.
        freed_after_outcome.append(outcome_seen.wait(10))
        release(self, prepared)

    monkeypatch.setattr(InstancePool, "release", release_when_seen)
    both_running = asyncio.Event()
    started: list[str] = []

    @tool
    async def arrive(name: str) -> str:
        """Wait until both programs run."""
        started.append(name)
        if len(started) == 2:
            both_running.set()
        await asyncio.wait_for(both_running.wait(), 10)
        return name

    codeact = CodeAct(backend="wasm", tools=[arrive])
    await codeact.prepare()
    quick = asyncio.create_task(codeact.execute("print(arrive(name='quick'))"))
    slow = asyncio.create_task(
        codeact.execute("import time\narrive(name='slow')\ntime.sleep(0.5)\nprint('slow')")
    )
    first = await quick
    outcome_seen.set()
    assert first.ok and first.stdout.strip() == "quick"
    second = await slow
    assert second.ok, second.error
    for _ in range(500):  # the quick one's runner frees it after its caller has the outcome
        if any(how == "release" for how, _ in frees):
            break
        await asyncio.sleep(0.01)
    released_by = [name for how, name in frees if how == "release"]
    assert released_by, frees
    assert all(name.startswith("codeact-wasm") for name in released_by), frees
    assert freed_after_outcome and all(freed_after_outcome), freed_after_outcome


async def test_alone_but_with_the_pools_thread_behind_the_runner_frees_its_own(
    frees: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Used instances never pile up waiting for the pool's one thread (two callers once
    left 92 of them, hundreds of MB): past one waiting, a runner frees its own."""
    monkeypatch.setattr(InstancePool, "backlog", property(lambda self: 2))
    codeact = CodeAct(backend="wasm")
    assert (await codeact.execute("print(1)")).ok
    for _ in range(500):  # the runner frees it after the caller has the outcome
        if frees:
            break
        await asyncio.sleep(0.01)
    assert [how for how, _ in frees] == ["release"], frees
