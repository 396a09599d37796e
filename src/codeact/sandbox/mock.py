"""`MockBackend`: a stand-in sandbox for testing the layers above without running code.

It does not execute the program. A handler you write receives the code and a `call_tool`
function that goes through the real host bridge (validation, approvals, limits, audit), and
returns the program's value, like httpx's `MockTransport` answers requests:

>>> def handler(code, call_tool):
...     return call_tool("get_weather", city="Paris")["temperature_c"]
>>> backend = MockBackend(handler)

There is no isolation: never use it for model-written code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from ..bridge.protocol import GuestError, RunOutcome, RunRequest, ToolChannel
from .base import Availability, SandboxBackend, ended_by

__all__ = ["MockBackend", "MockToolError"]

Handler = Callable[[str, Callable[..., Any]], Any]


class MockToolError(Exception):
    """Raised by the mock's `call_tool` when the host answers a call with an error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class MockBackend(SandboxBackend):
    """Answers every run with `handler(code, call_tool)`; its return value is the value."""

    name = "mock"
    isolation = "none"
    keeps_state = False

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[RunRequest] = []

    @classmethod
    def availability(cls) -> Availability:
        return Availability(True)

    async def run(self, request: RunRequest, channel: ToolChannel) -> RunOutcome:
        self.requests.append(request)
        return await asyncio.to_thread(ended_by, channel, self._run, request, channel)

    def _run(self, request: RunRequest, channel: ToolChannel) -> RunOutcome:
        def call_tool(name: str, **kwargs: Any) -> Any:
            ok, payload = channel.call(name, json.dumps(kwargs))
            if not ok:
                error = json.loads(payload)
                raise MockToolError(error["kind"], error["message"])
            return json.loads(payload)

        channel.begin()
        started = time.perf_counter()
        try:
            value = self.handler(request.code, call_tool)
        except Exception as exc:
            outcome = RunOutcome(error=GuestError(type(exc).__name__, str(exc)))
        else:
            outcome = RunOutcome(value=value, has_value=value is not None)
        outcome.timings = {"setup_ms": 0.0, "run_ms": (time.perf_counter() - started) * 1000}
        return outcome
