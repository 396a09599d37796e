"""The private loop thread of the sync API (`CodeAct.execute_sync`, `Session.execute_sync`,
`Agent.run_sync`) lives no longer than its owner: an object dropped without `close()` (as the
README's examples do) gives its thread and the loop's descriptors back, and is collected by
reference counting alone (nothing through the thread points back at it). One thread per
owner, however many threads make its first call at once; `close()` may be called twice, and
a call after it starts a new thread."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator

import pytest

from codeact import Agent, CodeAct
from codeact.sandbox.registry import backend_availability
from codeact.testing import ScriptedChat, code_call

NAMES = ("codeact-sync", "codeact-session", "codeact-agent")

pytestmark = pytest.mark.skipif(
    not backend_availability("wasm").available, reason="needs the wasm backend"
)


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    CodeAct(backend="wasm").prepare_sync()


def _loop_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name in NAMES and t.is_alive()}


def _event_loops() -> int:
    """Open epoll descriptors: one per event loop (the backends' other descriptors come and
    go in the background, so the count of all of them is not steady)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"
    return count


def _gone(threads: set[threading.Thread], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(t.is_alive() for t in threads):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _codeact() -> CodeAct:
    codeact = CodeAct(backend="wasm")
    assert codeact.execute_sync("1 + 1").value == 2
    return codeact


def _session() -> object:
    session = CodeAct(backend="wasm").session()
    assert session.execute_sync("a = 1").ok
    return session


def _agent() -> Agent:
    agent = Agent(client=ScriptedChat([code_call("1 + 1"), "2"]), codeact=CodeAct(backend="wasm"))
    assert agent.run_sync("What is 1 + 1?").text == "2"
    return agent


OWNERS: dict[str, Callable[[], object]] = {
    "codeact": _codeact,
    "session": _session,
    "agent": _agent,
}


@pytest.fixture(autouse=True)
def _no_gc_in_between() -> Iterator[None]:
    """Reference counting alone must free an owner: a cycle through the thread would not."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("kind", sorted(OWNERS))
def test_an_owner_dropped_without_close_takes_its_loop_thread_with_it(kind: str) -> None:
    OWNERS[kind]()  # what the process makes once (the backend's pool, a tool thread) is made
    _gone(_loop_threads())
    before, loops = _loop_threads(), _event_loops()
    refs = []
    for _ in range(5):
        owner = OWNERS[kind]()
        refs.append(weakref.ref(owner))
        del owner
    assert [r() for r in refs] == [None] * 5, "an owner outlived its last reference"
    assert _gone(_loop_threads() - before), "a loop thread outlived its owner"
    assert _event_loops() <= loops, "the loops were not closed"


def test_the_first_calls_from_several_threads_make_one_loop_thread() -> None:
    codeact = CodeAct(backend="wasm")
    before = _loop_threads()
    start = threading.Barrier(8)

    def first_call() -> None:
        start.wait()
        assert codeact.execute_sync("1").value == 1

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    made = _loop_threads() - before
    codeact.close()
    assert len(made) == 1, f"{len(made)} loop threads for one CodeAct"
    assert _gone(made)


@pytest.mark.parametrize("kind", sorted(OWNERS))
def test_close_stops_the_thread_twice_over_and_a_later_call_starts_again(kind: str) -> None:
    before = _loop_threads()
    owner = OWNERS[kind]()
    made = _loop_threads() - before
    assert len(made) == 1
    owner.close()  # type: ignore[attr-defined]
    assert _gone(made, timeout=0.5), "close() returned before the thread ended"
    owner.close()  # type: ignore[attr-defined]
    if isinstance(owner, CodeAct):
        assert owner.execute_sync("2").value == 2
        again = _loop_threads() - before
        assert len(again) == 1
        owner.close()
        assert _gone(again)
