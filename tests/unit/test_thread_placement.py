"""Where our threads and processes wake. `DaemonThreadPool`: every job gets a thread at once
(a blocked one never delays another), and an idle thread is woken on the caller's CPU when
nothing else of the pool runs, then takes back its own CPU set before the job starts, so no
job ever runs pinned; a jail's sleeping child is placed the same way and given its set back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from codeact.sandbox import placement
from codeact.sandbox.placement import QUIET_SECONDS, current_cpu, wake_process_near, woken_near
from codeact.sandbox.threads import DaemonThreadPool

QUIET = QUIET_SECONDS * 5

needs_affinity = pytest.mark.skipif(
    current_cpu() is None, reason="CPU affinity is Linux-only (sched_getcpu, sched_setaffinity)"
)


@pytest.fixture
def pool() -> Iterator[DaemonThreadPool]:
    p = DaemonThreadPool("test-pool")
    yield p
    p.shutdown(cancel_futures=True)


def _tid_and_mask() -> tuple[int, set[int]]:
    return threading.get_native_id(), os.sched_getaffinity(0)


def test_results_and_exceptions_come_back(pool: DaemonThreadPool) -> None:
    assert pool.submit(lambda a, b=0: a + b, 2, b=3).result(5) == 5

    def boom() -> None:
        raise ValueError("from the job")

    with pytest.raises(ValueError, match="from the job"):
        pool.submit(boom).result(5)
    assert pool.submit(lambda: "still serving").result(5) == "still serving"


def test_a_blocked_job_never_delays_another(pool: DaemonThreadPool) -> None:
    release = threading.Event()
    blocked = [pool.submit(release.wait, 30) for _ in range(3)]
    assert pool.submit(lambda: "through").result(5) == "through"
    release.set()
    assert all(f.result(5) for f in blocked)


def test_a_follow_up_runs_after_the_caller_has_its_value_and_keeps_the_thread(
    pool: DaemonThreadPool,
) -> None:
    """`submit_then`: the future gets the value at once; the thread runs the follow-up
    before it takes other work (a job meanwhile gets another thread)."""
    follow_up_may_end = threading.Event()
    followed: list[int] = []

    def job() -> tuple[int, Callable[[], None]]:
        def follow_up() -> None:
            follow_up_may_end.wait(10)
            followed.append(threading.get_native_id())

        return threading.get_native_id(), follow_up

    first = pool.submit_then(job)
    tid = first.result(5)  # while the follow-up still waits
    assert followed == []
    assert pool.submit(threading.get_native_id).result(5) != tid
    follow_up_may_end.set()
    deadline = time.monotonic() + 5
    while not followed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert followed == [tid]


def test_a_failing_follow_up_is_logged_and_the_thread_serves_on(
    pool: DaemonThreadPool, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("the follow-up broke")

    assert pool.submit_then(lambda: ("value", broken)).result(5) == "value"
    assert pool.submit_then(lambda: ("no follow-up", None)).result(5) == "no follow-up"
    deadline = time.monotonic() + 5
    while "the follow-up broke" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "follow-up work failed" in caplog.text
    assert pool.submit(lambda: "still serving").result(5) == "still serving"


def test_an_idle_thread_is_reused(pool: DaemonThreadPool) -> None:
    first = pool.submit(threading.get_native_id).result(5)
    assert pool.submit(threading.get_native_id).result(5) == first


@needs_affinity
def test_an_idle_pool_wakes_its_thread_on_the_callers_cpu_and_the_job_runs_unpinned(
    pool: DaemonThreadPool,
    affinity_calls: list[tuple[int, set[int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tid, mask = pool.submit(_tid_and_mask).result(5)  # the thread starts; nothing to wake
    assert affinity_calls == []
    callers_cpu = max(mask)  # where the caller "runs": the pool asks current_cpu()
    monkeypatch.setattr(placement, "current_cpu", lambda: callers_cpu)
    time.sleep(QUIET)  # a model turn apart
    tid2, mask2 = pool.submit(_tid_and_mask).result(5)
    assert tid2 == tid
    assert mask2 == mask, "the job ran with the thread still pinned"
    assert affinity_calls == [(tid, {callers_cpu}), (0, mask)]
    assert os.sched_getaffinity(tid) == mask


@needs_affinity
def test_jobs_back_to_back_are_left_to_the_scheduler(
    pool: DaemonThreadPool,
    affinity_calls: list[tuple[int, set[int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool.submit(lambda: None).result(5)
    time.sleep(QUIET)
    assert pool.submit(woken_near).result(5) is True  # quiet before: woken near
    assert len(affinity_calls) == 2
    # Within the quiet time of the last job's end (made long here, so that a slow machine
    # cannot make the next submission late): the CPUs are awake anyway.
    monkeypatch.setattr(placement, "QUIET_SECONDS", 60.0)
    for _ in range(5):
        assert pool.submit(woken_near).result(5) is False
    assert len(affinity_calls) == 2


@needs_affinity
def test_a_busy_pool_leaves_placement_to_the_scheduler(
    pool: DaemonThreadPool, affinity_calls: list[tuple[int, set[int]]]
) -> None:
    release = threading.Event()
    first = threading.Event()
    both = [pool.submit(first.wait, 30), pool.submit(first.wait, 30)]
    first.set()
    assert all(f.result(5) for f in both)  # two threads exist, both idle
    affinity_calls.clear()
    time.sleep(QUIET)
    started = threading.Event()

    def long_job() -> bool:
        started.set()
        return release.wait(30)

    running = pool.submit(long_job)
    assert started.wait(5)
    assert len(affinity_calls) == 2  # the idle pool's thread was woken near, then unpinned
    affinity_calls.clear()
    assert pool.submit(lambda: "beside").result(5) == "beside"
    release.set()
    running.result(5)
    assert affinity_calls == [], "a thread was pinned while another job ran"


@needs_affinity
def test_when_affinity_fails_the_pool_stops_trying_and_jobs_still_run(
    pool: DaemonThreadPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(placement, "ENABLED", True)
    pool.submit(lambda: None).result(5)

    def refused(pid: int, mask: Any) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sched_setaffinity", refused)
    time.sleep(QUIET)
    assert pool.submit(lambda: "ran").result(5) == "ran"
    assert placement.ENABLED is False


def test_shutdown_ends_idle_threads_and_refuses_new_work() -> None:
    p = DaemonThreadPool("test-shutdown")
    release, first = threading.Event(), threading.Event()
    done = p.submit(first.wait, 30)
    busy = p.submit(release.wait, 30)
    first.set()
    assert done.result(5) is True  # one thread idle (once it says so), one busy
    names = {t.name for t in threading.enumerate() if t.name.startswith("test-shutdown-")}
    assert len(names) == 2
    p.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        p.submit(lambda: None)
    release.set()
    assert busy.result(5) is True
    for t in threading.enumerate():
        if t.name in names:
            t.join(5)
            assert not t.is_alive(), f"{t.name} outlived shutdown"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux-only")
def test_current_cpu_is_one_the_thread_may_run_on() -> None:
    cpu = current_cpu()
    assert cpu is not None and cpu in os.sched_getaffinity(0)


@needs_affinity
def test_a_sleeping_process_is_placed_near_and_told_its_cpu_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(placement, "ENABLED", True)
    mask = os.sched_getaffinity(0)
    if len(mask) < 2:
        pytest.skip("needs two CPUs to tell pinned from not")
    callers_cpu = max(mask)
    monkeypatch.setattr(placement, "current_cpu", lambda: callers_cpu)
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        cpus = wake_process_near(sleeper.pid)
        assert cpus == sorted(mask)  # the set it must give itself back once woken
        assert os.sched_getaffinity(sleeper.pid) == {callers_cpu}
    finally:
        sleeper.kill()
        sleeper.communicate()
    assert wake_process_near(sleeper.pid) is None  # gone: nothing to place, no error
