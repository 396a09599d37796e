"""`ProcessBackend`: what the backends whose programs run in another process share.

The jail's children and the hyperlight workers are served the same way: a `Relay` on one of
our daemon threads moves frames between the process and the channel. If the awaiting task is
cancelled, the relay kills the process at once and the thread returns.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod

from ...bridge.protocol import RunOutcome, RunRequest, ToolChannel
from ..base import SandboxBackend, ended_by
from ..threads import DaemonThreadPool
from .serve import Relay

__all__ = ["ProcessBackend"]


class ProcessBackend(SandboxBackend):
    """A backend that runs each program in a separate process, relayed by `_run_blocking`."""

    _threads: DaemonThreadPool

    def _is_prepared(self) -> bool:
        """Whether `prepare` has been done (when False, `run` does it first, off the loop)."""
        return True

    async def run(self, request: RunRequest, channel: ToolChannel) -> RunOutcome:
        if not self._is_prepared():
            await asyncio.to_thread(self.prepare)
        relay_box: list[Relay] = []
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._threads, ended_by, channel, self._run_blocking, request, channel, relay_box
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if relay_box:
                relay_box[0].cancel()  # kills the process; the relay thread returns at once
            raise

    @abstractmethod
    def _run_blocking(
        self, request: RunRequest, channel: ToolChannel, relay_box: list[Relay]
    ) -> RunOutcome:
        """Run the program in a process on this thread; put the Relay in `relay_box` first."""
