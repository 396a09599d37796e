"""`DaemonThreadPool` gives its threads back: a thread idle for `idle_timeout` seconds ends, so
a burst of concurrent work (a program's 200 `call_tool_async` to a sync tool) does not leave
its peak of threads behind for good; work submitted while a thread is ending still runs."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from codeact.sandbox import threads
from codeact.sandbox.threads import DaemonThreadPool, start_thread


def _alive(prefix: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(prefix + "-"))


def _wait_for(prefix: str, count: int, within: float = 10.0) -> int:
    deadline = time.monotonic() + within
    while _alive(prefix) != count and time.monotonic() < deadline:
        time.sleep(0.02)
    return _alive(prefix)


@pytest.fixture
def pool() -> Iterator[DaemonThreadPool]:
    p = DaemonThreadPool("idle-test", idle_timeout=0.3)
    yield p
    p.shutdown()


def test_the_default_gives_threads_back_within_a_minute() -> None:
    assert 0 < DaemonThreadPool.idle_timeout <= 60


def test_threads_of_a_burst_end_once_idle(
    pool: DaemonThreadPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    burst = [pool.submit(release.wait, 30) for _ in range(20)]
    assert _wait_for("idle-test", 20) == 20
    release.set()
    assert all(f.result(5) for f in burst)
    assert _wait_for("idle-test", 0) == 0
    # The pool still serves, on a new thread started as every sandbox thread is (with the
    # guest's stack: test_thread_stacks.py).
    started: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> threading.Thread:
        started.append(kwargs["name"])
        return start_thread(*args, **kwargs)

    monkeypatch.setattr(threads, "start_thread", counted)
    assert pool.submit(lambda: "again").result(5) == "again"
    assert len(started) == 1


def test_a_busy_pool_keeps_its_threads(pool: DaemonThreadPool) -> None:
    first = pool.submit(threading.get_ident).result(5)
    for _ in range(10):
        time.sleep(0.1)  # under the idle timeout each time
        assert pool.submit(threading.get_ident).result(5) == first


def test_work_submitted_as_threads_end_always_runs() -> None:
    pool = DaemonThreadPool("race-test", idle_timeout=0.002)
    try:
        rng = random.Random(7)
        for _ in range(300):
            futures = [pool.submit(lambda i=i: i) for i in range(rng.randint(1, 4))]
            assert [f.result(5) for f in futures] == list(range(len(futures)))
            time.sleep(rng.choice((0.0, 0.001, 0.002, 0.003)))
    finally:
        pool.shutdown()
