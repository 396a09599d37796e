"""`PerLoop`: one resource per event loop, made on first use there and closed with that loop.

An HTTP client's connection pool belongs to the event loop it was made in: used from another
one it fails ("Event loop is closed", "bound to a different event loop"). A chat client, though,
is used from many loops: ``asyncio.run(agent.run(...))`` once per episode, `run_sync`'s private
loop thread, a test's loop. So `OpenAIChat` keeps its ``openai`` client here, one per loop.

Each loop's resource is closed when that loop shuts down (``asyncio.run`` and the private loop
thread end by closing the loop's async generators, and one of those holds the resource), or by
`PerLoop.aclose` in that loop. The entry of a loop that was closed some other way is dropped.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["PerLoop"]

T = TypeVar("T")


class _Entry(Generic[T]):
    """A loop's resource and the async generator that closes it at the loop's shutdown."""

    def __init__(self, value: T, closer: AsyncGenerator[None, None]) -> None:
        self.value = value
        self.closer = closer


class PerLoop(Generic[T]):
    """One `T` per running event loop: `get` makes it there on first use (with `make`; the
    first loop to ask gets `first`, when given), and `close` closes it when its loop shuts
    down (or at `aclose`)."""

    def __init__(
        self,
        make: Callable[[], T],
        close: Callable[[T], Awaitable[None]],
        *,
        first: T | None = None,
    ) -> None:
        self._make = make
        self._first = first  # made before any loop ran: the first loop to ask takes it
        self._close = close
        self._entries: dict[asyncio.AbstractEventLoop, _Entry[T]] = {}
        self._lock = threading.Lock()  # loops in several threads may ask at once

    def get(self) -> T:
        """The running loop's resource (made now when it has none). Call it in a running loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for other in [old for old in self._entries if old.is_closed()]:
                del self._entries[other]  # closed without shutting down: nothing can close it
            entry = self._entries.get(loop)
            if entry is None:
                value = self._make() if self._first is None else self._first
                self._first = None
                entry = self._entries[loop] = _Entry(value, self._closer(loop, value))
        return entry.value

    def _closer(self, loop: asyncio.AbstractEventLoop, value: T) -> AsyncGenerator[None, None]:
        """An async generator, started in the running loop, which the loop closes at its
        shutdown (``shutdown_asyncgens``), closing `value` in its own loop."""

        async def closer() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                with self._lock:
                    if self._entries.get(loop) is not None and self._entries[loop].value is value:
                        del self._entries[loop]
                await self._close(value)

        generator = closer()
        step = generator.__anext__()  # the loop's first-iteration hook registers it here
        try:
            step.send(None)  # runs to the ``yield`` at once: nothing is awaited before it
        except StopIteration:
            pass
        return generator

    async def aclose(self) -> None:
        """Close the running loop's resource now (a later `get` makes another)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.pop(loop, None)
        if entry is not None:
            await entry.closer.aclose()
