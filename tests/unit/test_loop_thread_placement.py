"""`LoopThread` (the sync facade's loop): woken on the caller's CPU when idle, running every
coroutine with its own CPU set again, and never left pinned, even by a submission cancelled
before the loop picked it up (asyncio still starts it; nothing is left "never awaited")."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import threading
import time
import warnings

import pytest

from codeact.runtime._sync import LoopThread
from codeact.sandbox import placement
from codeact.sandbox.placement import current_cpu

pytestmark = pytest.mark.skipif(
    current_cpu() is None, reason="CPU affinity is Linux-only (sched_getcpu, sched_setaffinity)"
)


async def _where() -> tuple[int, set[int]]:
    return threading.get_native_id(), os.sched_getaffinity(0)


def test_an_idle_loop_is_woken_near_and_runs_the_coroutine_unpinned(
    affinity_calls: list[tuple[int, set[int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = LoopThread(name="test-placement")
    try:
        mask = os.sched_getaffinity(0)
        callers_cpu = max(mask)
        monkeypatch.setattr(placement, "current_cpu", lambda: callers_cpu)
        tid, seen = loop.run(_where())
        assert seen == mask, "the coroutine ran with the loop's thread pinned"
        assert affinity_calls == [(tid, {callers_cpu}), (0, mask)]
        assert os.sched_getaffinity(tid) == mask
    finally:
        loop.close()


def test_a_submission_cancelled_before_the_loop_takes_it_leaves_nothing_pinned(
    affinity_calls: list[tuple[int, set[int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = LoopThread(name="test-cancel")
    try:
        tid, _ = loop.run(_where())
        mask = os.sched_getaffinity(0)
        callers_cpu = max(mask)
        monkeypatch.setattr(placement, "current_cpu", lambda: callers_cpu)
        gate = threading.Event()
        # The loop's thread is held by something that is not a submission (so the next
        # submission finds the loop idle and pins it), and cannot start what comes next.
        loop._loop.call_soon_threadsafe(gate.wait, 30)
        time.sleep(0.05)

        async def cancelled_early() -> None:
            await asyncio.sleep(30)  # asyncio starts it, then cancels it here

        coro = cancelled_early()
        affinity_calls.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            future = loop.submit(coro)
            assert affinity_calls == [(tid, {callers_cpu})]
            assert future.cancel()
            gate.set()
            # The task's first step is queued behind what the loop had queued: wait for it.
            deadline = time.monotonic() + 10
            while inspect.getcoroutinestate(coro) != inspect.CORO_CLOSED:
                assert time.monotonic() < deadline, inspect.getcoroutinestate(coro)
                time.sleep(0.005)
            del coro
            gc.collect()
        assert os.sched_getaffinity(tid) == mask, "the loop's thread stayed pinned"
        assert not [w for w in caught if "never awaited" in str(w.message)]
    finally:
        loop.close()
