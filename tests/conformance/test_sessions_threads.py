"""A session's calls run one at a time whoever makes them: several threads (`execute_sync`),
several event loops (`asyncio.run` after `asyncio.run`, loops on other threads), or both.

Each program adds one to `n` through a host tool that counts how many calls are inside it at
once: the calls never overlap, and none is lost (each starts from the state the previous left).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from codeact import CodeAct, Session, tool

STEP = "n = n + busy()"
JOIN_S = 60.0


def _session(make_codeact: Callable[..., CodeAct]) -> tuple[Session, dict[str, int]]:
    inside = {"now": 0, "most": 0}
    guard = threading.Lock()

    @tool
    def busy() -> int:
        """Hold the session's turn for a moment; returns 1."""
        with guard:
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
        time.sleep(0.05)
        with guard:
            inside["now"] -= 1
        return 1

    return make_codeact(tools=[busy]).session(), inside


def _threads(*targets: Callable[[], Any]) -> list[BaseException]:
    """Run each target on a thread of its own, all released at once; their exceptions."""
    start = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target: Callable[[], Any]) -> None:
        start.wait()
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_S)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"calls never returned on {stuck}"
    return errors


def _sync_step(session: Session) -> None:
    result = session.execute_sync(STEP)
    assert result.ok, result.to_model_text()


async def _gathered(session: Session, count: int) -> None:
    results = await asyncio.gather(*(session.execute(STEP) for _ in range(count)))
    assert all(r.ok for r in results), [r.to_model_text() for r in results]


def test_concurrent_calls_in_one_event_loop_then_another(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session, inside = _session(make_codeact)
    session.execute_sync("n = 0")
    asyncio.run(_gathered(session, 2))
    asyncio.run(_gathered(session, 2))  # asyncio.Lock bound to the first loop raised here
    assert session.execute_sync("n").value == 4
    assert inside["most"] == 1


def test_the_first_sync_calls_of_a_new_session_from_several_threads(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """Two loop threads were made at once; a call waiting on one loop for a lock the other
    loop released was never woken."""
    for _ in range(3):
        session, inside = _session(make_codeact)
        first = [lambda s=session: s.execute_sync("n = busy()")] * 4
        assert _threads(*first) == []
        assert session.execute_sync("n").value == 1
        assert inside["most"] == 1


def test_threads_and_event_loops_at_once_take_turns(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session, inside = _session(make_codeact)
    session.execute_sync("n = 0")

    def sync_calls() -> None:
        for _ in range(3):
            _sync_step(session)

    def own_loop() -> None:
        asyncio.run(_gathered(session, 3))

    assert _threads(sync_calls, sync_calls, own_loop, own_loop) == []
    assert session.execute_sync("n").value == 12
    assert inside["most"] == 1


def test_a_call_cancelled_while_it_waits_its_turn_leaves_the_next_ones_running(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session, _ = _session(make_codeact)
    session.execute_sync("n = 0")

    async def cancel_a_waiter() -> None:
        running = asyncio.ensure_future(session.execute("import time\ntime.sleep(0.3)"))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(session.execute(STEP))
        await asyncio.sleep(0.05)
        waiting.cancel()
        assert (await running).ok
        await _gathered(session, 2)

    asyncio.run(cancel_a_waiter())
    assert session.execute_sync("n").value == 2  # the cancelled call never ran
    session.restart_sync()
    assert session.names == ()
