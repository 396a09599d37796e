"""A program that waits for something only another thread could do: where the backend runs
one thread (wasm) nothing ever can, so it is told so at the call, as an exception it can
catch; where threads exist (jail) it waits, and the wall time stops it. A timed wait waits,
on every backend (on wasm it returned at once)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from codeact import CodeAct, Limits

FOREVER = {
    "lock": "import threading\nl = threading.Lock()\nl.acquire()\nl.acquire()",
    "queue": "import queue\nqueue.Queue().get()",
    "simple_queue": "import queue\nqueue.SimpleQueue().get()",
    "event": "import threading\nthreading.Event().wait()",
    "semaphore": "import threading\nthreading.Semaphore(0).acquire()",
    "condition": "import threading\nc = threading.Condition()\nwith c:\n    c.wait()",
}


@pytest.mark.parametrize("program", FOREVER.values(), ids=FOREVER.keys())
async def test_a_wait_nothing_can_end_is_an_error_or_the_wall_time(
    make_codeact: Callable[..., CodeAct], program: str
) -> None:
    # On wasm each was "SandboxError: ... wasm `unreachable` instruction executed".
    codeact = make_codeact(limits=Limits(wall_time=1))
    result = await codeact.execute(program)
    assert not result.ok and result.error is not None
    if codeact.backend.threads:
        assert result.error.limit == "wall_time", result.error
        return
    assert result.error.type == "RuntimeError", result.error
    assert result.error.message.startswith(
        "this would wait forever: the sandbox runs one thread, so nothing can release the lock"
    )
    assert f"line {len(program.splitlines())}" in result.error.traceback


async def test_the_program_can_catch_a_wait_that_would_last_forever(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact()
    if codeact.backend.threads:
        pytest.skip("with threads, another thread could end the wait: it is not refused")
    code = """
import queue, threading
caught = []
for wait in (queue.Queue().get, threading.Event().wait, threading.Semaphore(0).acquire):
    try:
        wait()
    except RuntimeError as e:
        caught.append("wait forever" in str(e))
lock = threading.Lock()
with lock:
    inside = (lock.locked(), lock.acquire(False), lock.acquire(timeout=0.05))
q = queue.Queue()
q.put(1)
(caught, inside, lock.locked(), q.get())
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value == [[True, True, True], [True, False, False], False, 1]


TIMED = {
    "event": "threading.Event().wait(0.6)",
    "lock": "(lambda l: (l.acquire(), l.acquire(timeout=0.6))[1])(threading.Lock())",
    "condition": "(lambda c: c.acquire() and c.wait(0.6))(threading.Condition())",
    "semaphore": "threading.Semaphore(0).acquire(timeout=0.6)",
}


@pytest.mark.parametrize("expression", TIMED.values(), ids=TIMED.keys())
async def test_a_timed_wait_waits_its_time_and_returns_false(
    make_codeact: Callable[..., CodeAct], expression: str
) -> None:
    # On wasm `threading.Event().wait(100)` returned False at once.
    code = f"import queue, threading, time\nt = time.monotonic()\nr = {expression}\n"
    code += "(r, time.monotonic() - t)"
    result = await make_codeact().execute(code)
    assert result.ok, result.error
    waited, seconds = result.value
    assert waited is False and 0.55 <= seconds < 5, result.value


async def test_queue_get_with_a_timeout_raises_empty_after_it(
    make_codeact: Callable[..., CodeAct],
) -> None:
    code = """
import queue, time
t = time.monotonic()
try:
    queue.Queue().get(timeout=0.6)
except queue.Empty:
    print("empty")
time.monotonic() - t
"""
    result = await make_codeact().execute(code)
    assert result.ok and result.stdout == "empty\n", result.error
    assert 0.55 <= result.value < 5


async def test_a_long_timed_wait_is_stopped_by_the_wall_time(
    make_codeact: Callable[..., CodeAct],
) -> None:
    started = time.monotonic()
    result = await make_codeact(limits=Limits(wall_time=1)).execute(
        "import threading\nthreading.Event().wait(100)"
    )
    assert result.error is not None and result.error.limit == "wall_time", result.error
    assert time.monotonic() - started < 30


async def test_a_c_level_lock_that_waits_forever_is_named_not_a_bare_trap(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # `_thread`'s own lock is left unpatched (the interpreter's imports use it); on wasm its
    # wait stops the interpreter, and the result says why, not "unreachable instruction".
    codeact = make_codeact(limits=Limits(wall_time=1))
    result = await codeact.execute(
        "import _thread\nl = _thread.allocate_lock()\nl.acquire()\nl.acquire()"
    )
    assert not result.ok and result.error is not None
    if codeact.backend.threads:
        assert result.error.limit == "wall_time", result.error
        return
    assert result.error.type == "RuntimeError", result.error
    assert "the sandbox runs one thread, so the wait would last forever" in result.error.message
    assert "unreachable" not in result.error.message
