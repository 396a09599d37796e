"""`runtime/execution.py` runs one execution from an `ExecutionSetup` alone, without a CodeAct.

The conformance suite runs the same path through `CodeAct` on real backends; these pin what the
module itself promises: a backend's failure is a failed result, never a raise; the execution is
in `running` only while its backend runs; a backend is made ready once per process.
"""

from __future__ import annotations

import asyncio
from typing import Any

from codeact import Limits, tool
from codeact.bridge.protocol import RunOutcome, RunRequest, ToolChannel
from codeact.calls.pipeline import ToolPipeline
from codeact.policy.network import NetworkLimits
from codeact.policy.outputs import OutputLimits
from codeact.runtime.execution import ExecutionSetup, Running, ensure_ready, execute
from codeact.sandbox.base import SandboxBackend
from codeact.sandbox.mock import MockBackend
from codeact.tools import ToolSet


@tool
def double(x: int) -> int:
    """Twice x."""
    return 2 * x


def _setup(backend: SandboxBackend, running: Running) -> ExecutionSetup:
    return ExecutionSetup(
        backend=backend,
        tools=ToolSet([double]),
        pipeline=ToolPipeline(),
        approval_mode="never_require",
        approval_scope="call",
        mounts=(),
        domains=(),
        output_limits=OutputLimits(),
        network_limits=NetworkLimits(),
        packages=None,
        running=running,
    )


async def test_a_program_runs_from_its_setup_and_leaves_running_when_done() -> None:
    running: Running = set()
    seen: list[int] = []

    def handler(code: str, call_tool: Any) -> Any:
        seen.append(len(running))  # while the backend runs, the execution is registered
        return call_tool("double", x=21)

    result, state = await execute("double(x=21)", Limits(), _setup(MockBackend(handler), running))
    assert result.ok and result.value == 42, result
    assert [r.name for r in result.tool_calls] == ["double"]
    assert state is None
    assert seen == [1] and running == set()
    assert {"tools_ms", "approval_ms", "total_ms"} <= set(result.timings)


class _Failing(MockBackend):
    async def run(self, request: RunRequest, channel: ToolChannel) -> RunOutcome:
        raise RuntimeError("the backend broke")


async def test_a_failing_backend_is_a_failed_result_not_a_raise() -> None:
    running: Running = set()
    result, _ = await execute("1", Limits(), _setup(_Failing(lambda c, t: None), running))
    assert not result.ok and result.error is not None
    assert result.error.type == "SandboxError"
    assert "the backend broke" in result.error.message
    assert running == set()


class _Counting(MockBackend):
    prepared = 0

    def prepare(self) -> None:
        type(self).prepared += 1


async def test_a_backend_is_made_ready_once_for_concurrent_first_executions() -> None:
    backend = _Counting(lambda c, t: None)
    await asyncio.gather(*(ensure_ready(backend) for _ in range(5)))
    await ensure_ready(backend)
    assert _Counting.prepared == 1
