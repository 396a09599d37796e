"""The synchronous facade: a private event loop in a daemon thread, and Ctrl-C while waiting.

`CodeAct.execute_sync` runs the async core on this loop, so async tools keep one loop across
calls (their clients and sessions stay valid) without the caller owning an event loop;
`result_or_interrupted` turns Ctrl-C during that wait into a stopped program and its result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..errors import ExecutionInterrupted, UserError

if TYPE_CHECKING:
    from .result import ExecutionResult

T = TypeVar("T")

__all__ = ["LoopThread", "refuse_inside_loop", "result_or_interrupted"]


class _Interruptible(Protocol):
    def interrupt(self) -> None: ...


def refuse_inside_loop(call: str, instead: str) -> None:
    """Raise `UserError` when a blocking `call` is made on a thread that runs an event loop
    (it would block that loop, or deadlock it); `instead` is the awaitable to use there."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise UserError(f"{call} was called inside a running event loop; use `{instead}` there")


def result_or_interrupted(
    codeact: _Interruptible, future: concurrent.futures.Future[ExecutionResult]
) -> ExecutionResult:
    """Wait for `future`; on Ctrl-C stop the program and raise `ExecutionInterrupted` with
    its result, so that what it printed is not lost."""
    try:
        return future.result()
    except KeyboardInterrupt:
        codeact.interrupt()
        try:
            result = future.result(timeout=5)
        except BaseException:
            future.cancel()
            raise KeyboardInterrupt from None
        raise ExecutionInterrupted(result) from None


class LoopThread:
    def __init__(self, name: str = "codeact-sync") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the loop; the caller waits on (or wraps) the returned future."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result in the calling thread."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def close(self) -> None:
        if self._loop.is_closed():
            return
        # Cancel what still runs (a call left by Ctrl-C) and let it unwind, so that no task is
        # destroyed pending when the loop goes.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2)
