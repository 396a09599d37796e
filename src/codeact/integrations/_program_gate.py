"""How many programs one framework adapter runs at once.

A framework runs the tool calls of one model reply concurrently (LangChain's tool node,
Pydantic AI, OpenAI Agents): a reply with a dozen ``execute_code`` calls started a dozen
sandboxes at once, each holding up to ``Limits.memory_mb`` and its output (12 programs of
120 MiB each: 1.7 GB). codeact's own `Agent` runs at most four at a time; so does each
adapter now, through its `ProgramGate`: the other calls wait their turn, and their wall time
starts when they run.
"""

from __future__ import annotations

import asyncio
import threading
import weakref

from .. import CodeAct, ExecutionResult

__all__ = ["ADAPTER_PROGRAMS", "ProgramGate"]

#: Programs one adapter runs at once (as `codeact.agent.PARALLEL_PROGRAMS`).
ADAPTER_PROGRAMS = 4


class ProgramGate:
    """At most `limit` programs at once on each event loop, and `limit` at once among the
    threads that run programs synchronously (a framework's sync tool path)."""

    def __init__(self, limit: int = ADAPTER_PROGRAMS) -> None:
        self.limit = limit
        self._threads = threading.BoundedSemaphore(limit)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._loops = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    async def execute(
        self, codeact: CodeAct, code: str, *, call_id: str | None = None
    ) -> ExecutionResult:
        loop = asyncio.get_running_loop()
        with self._lock:  # an asyncio.Semaphore serves one loop: one for each
            turns = self._loops.get(loop)
            if turns is None:
                turns = self._loops[loop] = asyncio.Semaphore(self.limit)
        async with turns:
            return await codeact.execute(code, call_id=call_id)

    def execute_sync(self, codeact: CodeAct, code: str) -> ExecutionResult:
        with self._threads:
            return codeact.execute_sync(code)
