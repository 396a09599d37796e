"""An execution stuck in a host call that cannot be interrupted still returns on time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from codeact import CodeAct, Limits, tool

pytestmark = pytest.mark.usefixtures("wasm_ready")

release = threading.Event()


@tool(timeout=0.2)
def blocks_until_released() -> str:
    """A sync tool that ignores its timeout (it cannot be preempted)."""
    release.wait(10)
    return "released"


async def test_stuck_sync_tool_is_reported_and_the_caller_is_not_cancelled() -> None:
    release.clear()
    codeact = CodeAct(tools=[blocks_until_released], limits=Limits(wall_time=20))
    try:
        async with asyncio.timeout(15) if hasattr(asyncio, "timeout") else _nothing():
            result = await codeact.execute("blocks_until_released()")
            still_blocked = not release.is_set()  # the result came while the tool hung
            # The task was cancelled by our supervisor and that was taken back: the enclosing
            # timeout must not see it, and the task can go on awaiting.
            await asyncio.sleep(0)
    finally:
        release.set()
    assert result.error is not None and result.error.limit == "tool_timeout"
    assert still_blocked
    current = asyncio.current_task()
    assert current is not None
    if hasattr(current, "cancelling"):
        assert current.cancelling() == 0


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def test_a_guest_stuck_in_a_real_sleep_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    # The guest reaches the real time.sleep by re-importing `time`; its thread stays blocked
    # in the host for the sleep. The result must come on time AND the process must exit
    # without waiting for that thread (it would take 120 s if it did).
    script = tmp_path / "stuck.py"
    script.write_text(
        "import asyncio\n"
        "from codeact import CodeAct, Limits\n"
        "async def main():\n"
        "    codeact = CodeAct(backend='wasm', limits=Limits(wall_time=0.5))\n"
        "    r = await codeact.execute(\n"
        "        \"import sys\\ndel sys.modules['time']\\nimport time\\ntime.sleep(120)\")\n"
        "    print(r.error.limit, r.error.type)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # The wait on WASI's clock is refused at once now (codeact.sandbox.wasm.clock): no thread
    # is left blocked at all, and the process exits at once.
    assert proc.stdout.strip() == "None PermissionError"
