"""`LoopLock`: an async lock that coroutines of any event loop, on any thread, may share.

`asyncio.Lock` binds itself to the first loop that has to wait on it: a second loop then gets
`RuntimeError: ... is bound to a different event loop`, and a holder on one loop that
releases it wakes a waiter of another loop thread-unsafely (the waiter may never wake). An
object whose methods may be awaited from several loops (a `Session` used by `asyncio.run`
after `asyncio.run`, by its own `execute_sync` loop thread and by another thread's loop) takes
turns with this lock instead: a plain lock guards who holds it, and a waiter waits on a future
of its own loop, which the releasing side resolves with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from types import TracebackType

__all__ = ["LoopLock"]

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class LoopLock:
    """One holder at a time; the others wait, without blocking their loops, in the order
    they came. Releasing hands the lock straight to the next waiter (a newcomer cannot take
    it in between). A waiter cancelled while it waits never holds it."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[_Waiter] = deque()

    def locked(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except BaseException:
            with self._mutex, contextlib.suppress(ValueError):  # still waiting: leave the line
                self._waiters.remove((loop, waiter))
            # Handed the lock (`_give` set the result) just before it was cancelled: pass it
            # on. Cancelled before `_give` ran, it is passed over by `_give` itself; passed
            # over because its loop was closed (its coroutine closed later), it never had it.
            if waiter.done() and not waiter.cancelled():
                self.release()
            raise

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                raise RuntimeError("LoopLock.release() of a lock that is not held")
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._give, waiter)
                    return  # still held: by that waiter now
                except RuntimeError:
                    continue  # its loop is closed: nobody waits there any more
            self._held = False

    def _give(self, waiter: asyncio.Future[None]) -> None:
        """On the waiter's loop: wake it, or, if it was cancelled meanwhile, the next one."""
        if waiter.done():
            self.release()
        else:
            waiter.set_result(None)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = f"locked, {len(self._waiters)} waiting" if self._held else "unlocked"
        return f"<LoopLock {state}>"
