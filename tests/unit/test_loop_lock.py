"""`LoopLock`: one holder at a time across event loops and threads (where `asyncio.Lock` binds
itself to one loop), waiters in order, and a waiter cancelled at any moment never keeps it."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from codeact._loop_lock import LoopLock


def test_coroutines_of_several_loops_on_several_threads_take_turns() -> None:
    lock = LoopLock()
    inside = {"now": 0, "most": 0, "done": 0}

    async def turns() -> None:
        for _ in range(20):
            async with lock:
                inside["now"] += 1
                inside["most"] = max(inside["most"], inside["now"])
                await asyncio.sleep(0.001)
                inside["now"] -= 1
                inside["done"] += 1

    async def loop_of_a_thread() -> None:
        await asyncio.gather(turns(), turns())

    threads = [threading.Thread(target=asyncio.run, args=(loop_of_a_thread(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads), "a waiter was never woken"
    assert inside == {"now": 0, "most": 1, "done": 160}
    assert not lock.locked()
    asyncio.run(turns())  # and a loop that comes later


async def test_waiters_get_the_lock_in_the_order_they_came() -> None:
    lock = LoopLock()
    order: list[int] = []
    await lock.acquire()

    async def take(i: int) -> None:
        async with lock:
            order.append(i)

    tasks = [asyncio.ensure_future(take(i)) for i in range(5)]
    await asyncio.sleep(0.01)
    lock.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("when", ["before the hand-over", "after the hand-over"])
async def test_a_waiter_cancelled_around_the_hand_over_passes_the_lock_on(when: str) -> None:
    lock = LoopLock()
    loop = asyncio.get_running_loop()
    await lock.acquire()
    first = asyncio.ensure_future(lock.acquire())
    second = asyncio.ensure_future(lock.acquire())
    await asyncio.sleep(0.01)
    lock.release()  # hands the lock to `first` (its wake-up is queued)
    if when == "before the hand-over":
        first.cancel()
    else:
        loop.call_soon(first.cancel)  # after the hand-over ran, before `first` resumed
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 5)
    assert lock.locked()
    lock.release()
    assert not lock.locked()


async def test_a_waiter_cancelled_while_it_waits_is_skipped() -> None:
    lock = LoopLock()
    await lock.acquire()
    gone = asyncio.ensure_future(lock.acquire())
    await asyncio.sleep(0.01)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    lock.release()
    assert not lock.locked()
    await asyncio.wait_for(lock.acquire(), 1)
    lock.release()


def test_a_waiter_whose_loop_was_closed_is_passed_over_and_never_holds_it() -> None:
    lock = LoopLock()
    holder = asyncio.new_event_loop()
    holder.run_until_complete(lock.acquire())
    lost = asyncio.new_event_loop()
    lost.set_exception_handler(lambda _loop, _context: None)  # "destroyed but pending"
    waiting = lost.create_task(lock.acquire())
    lost.run_until_complete(asyncio.sleep(0.01))
    lost.close()  # its waiting task is abandoned, never cancelled
    lock.release()
    assert not lock.locked()
    holder.run_until_complete(asyncio.wait_for(lock.acquire(), 1))
    del waiting  # the abandoned coroutine is closed now: it must not release the lock
    gc.collect()
    assert lock.locked()
    lock.release()
    holder.close()


def test_releasing_a_lock_nobody_holds_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not held"):
        LoopLock().release()
