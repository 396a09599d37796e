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
import contextvars
import threading
import weakref

from .. import CodeAct, ExecutionResult

__all__ = ["ADAPTER_PROGRAMS", "ProgramGate"]

#: Programs one adapter runs at once (as `codeact.agent.PARALLEL_PROGRAMS`).
ADAPTER_PROGRAMS = 4

#: The gates whose turn the running code holds: a program's tool that runs another program
#: through the same adapter (a sub-agent sharing the tool) runs it in its parent's turn. It
#: waited for one of its own, which four such parents held: all of them waited for ever.
_holding: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "codeact_program_gate_turns", default=frozenset()
)


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
        held = _holding.get()
        if id(self) in held:  # inside a program of this gate: its turn
            return await codeact.execute(code, call_id=call_id)
        loop = asyncio.get_running_loop()
        with self._lock:  # an asyncio.Semaphore serves one loop: one for each
            turns = self._loops.get(loop)
            if turns is None:
                turns = self._loops[loop] = asyncio.Semaphore(self.limit)
        async with turns:
            token = _holding.set(held | {id(self)})
            try:
                return await codeact.execute(code, call_id=call_id)
            finally:
                _holding.reset(token)

    def execute_sync(self, codeact: CodeAct, code: str) -> ExecutionResult:
        held = _holding.get()
        if id(self) in held:
            return codeact.execute_sync(code)
        with self._threads:
            token = _holding.set(held | {id(self)})
            try:
                return codeact.execute_sync(code)
            finally:
                _holding.reset(token)
