"""Every limit stops the program, names itself in the result, and leaves the host healthy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from codeact import CodeAct, Limits, tool


async def _still_healthy(codeact: CodeAct) -> None:
    after = await codeact.execute("print('alive')\n6 * 7")
    assert after.ok and after.value == 42 and after.stdout == "alive\n"


async def test_wall_time_stops_a_busy_loop(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(limits=Limits(wall_time=0.5))
    result = await codeact.execute("print('started')\nwhile True:\n    pass\n")
    assert not result.ok and result.error is not None
    assert result.error.limit == "wall_time"
    assert "Limits.wall_time=0.5s" in result.error.message  # the field that raises it
    assert result.stdout == "started\n"  # output before the stop survives
    await _still_healthy(codeact)


async def test_wall_time_stops_a_long_sleep(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(limits=Limits(wall_time=0.5))
    result = await codeact.execute("import time\ntime.sleep(3600)")
    assert result.error is not None and result.error.limit == "wall_time"
    assert result.timings["total_ms"] < 30_000  # stopped, not slept out
    await _still_healthy(codeact)


async def test_wall_time_stops_asyncio_sleep(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(limits=Limits(wall_time=0.5))
    result = await codeact.execute("import asyncio\nawait asyncio.sleep(3600)")
    assert result.error is not None and result.error.limit == "wall_time"
    await _still_healthy(codeact)


async def test_memory_limit_gives_memory_error(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(limits=Limits(memory_mb=64, wall_time=20))
    result = await codeact.execute(
        "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 20))"
    )
    assert not result.ok and result.error is not None
    assert result.error.limit == "memory"
    assert "Limits.memory_mb=64" in result.error.message  # the field that raises it
    await _still_healthy(codeact)


async def test_memory_error_can_be_caught_by_the_program(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(memory_mb=64))
    code = "try:\n    x = bytearray(200 * 1024 * 1024)\nexcept MemoryError:\n    print('too big')"
    result = await codeact.execute(code)
    assert result.ok and result.stdout == "too big\n"


async def test_output_beyond_the_limit_is_cut_and_counted(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(output_bytes=1000))
    result = await codeact.execute("for i in range(1000):\n    print('x' * 99)\n'done'")
    assert result.ok
    assert len(result.stdout.encode()) == 1000
    assert result.output_truncated == 100_000 - 1000
    assert result.value == "done"
    assert "output truncated" in result.to_model_text()


async def test_raw_writes_to_file_descriptors_are_capped_too(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(output_bytes=1000))
    result = await codeact.execute("import os\nfor i in range(100):\n    os.write(1, b'y' * 100)")
    assert len(result.stdout.encode()) <= 1000
    assert result.output_truncated >= 9000


@tool
def ping() -> str:
    """Answers pong."""
    return "pong"


async def test_tool_call_limit_stops_the_program(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact(tools=[ping], limits=Limits(tool_calls=5))
    result = await codeact.execute("for i in range(10):\n    ping()\n    print(i)")
    assert result.error is not None and result.error.limit == "tool_calls"
    assert "more than 5 tool calls" in result.error.message
    assert result.stdout == "0\n1\n2\n3\n4\n"
    assert [c.outcome for c in result.tool_calls] == ["ok"] * 5 + ["refused"]
    await _still_healthy(codeact)


@tool(timeout=0.3)
def stuck_sync() -> str:
    """A sync tool that takes too long."""
    time.sleep(2)
    return "late"


@tool(timeout=0.3)
async def stuck_async() -> str:
    """An async tool that takes too long."""
    await asyncio.sleep(30)
    return "late"


@pytest.mark.parametrize("name", ["stuck_sync", "stuck_async"])
async def test_tool_timeout_stops_the_program(
    make_codeact: Callable[..., CodeAct], name: str
) -> None:
    codeact = make_codeact(tools=[stuck_sync, stuck_async])
    result = await codeact.execute(f"print('calling')\n{name}()\nprint('never')")
    assert result.error is not None and result.error.limit == "tool_timeout"
    assert f"{name}()" in result.error.message and "0.3s" in result.error.message
    assert "(the tool's own timeout)" in result.error.message  # where the timeout was set
    assert result.stdout == "calling\n"
    await _still_healthy(codeact)


async def test_default_tool_timeout_comes_from_limits(make_codeact: Callable[..., CodeAct]) -> None:
    @tool
    async def slow() -> int:
        """Slow."""
        await asyncio.sleep(30)
        return 1

    codeact = make_codeact(tools=[slow], limits=Limits(tool_timeout=0.2))
    result = await codeact.execute("slow()")
    assert result.error is not None and result.error.limit == "tool_timeout"
    assert "0.2s" in result.error.message
    assert "Limits.tool_timeout=0.2s" in result.error.message  # where the timeout was set


async def test_deep_recursion_is_a_clean_error(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact()
    result = await codeact.execute("def f(n):\n    return f(n + 1)\nf(0)")
    assert not result.ok and result.error is not None
    assert result.error.type == "RecursionError"
    await _still_healthy(codeact)


async def test_recursion_past_a_raised_recursion_limit_is_a_recursion_error(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # On the jail the frames filled the memory limit, and the run ended as
    # "SystemError: error return without exception set"; wasm said RecursionError.
    codeact = make_codeact(limits=Limits(wall_time=20, memory_mb=128))
    code = "import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1)\nf(0)"
    result = await codeact.execute(code)
    assert not result.ok and result.error is not None
    assert result.error.type == "RecursionError", result.error
    assert result.error.message.startswith("the program exhausted the sandbox's")
    assert "too deep recursion" in result.error.message
    assert "SystemError" not in result.error.traceback
    await _still_healthy(codeact)


async def test_many_executions_in_parallel_stay_separate(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[ping])
    results = await asyncio.gather(
        *(codeact.execute(f"ping()\nprint({i})\n{i} * 2") for i in range(8))
    )
    assert [r.value for r in results] == [i * 2 for i in range(8)]
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(8)]


async def test_a_stopped_program_cancels_its_running_async_tool(
    make_codeact: Callable[..., CodeAct],
) -> None:
    cancelled = asyncio.Event()

    @tool
    async def hangs() -> str:
        """Never answers on its own."""
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    codeact = make_codeact(tools=[hangs], limits=Limits(wall_time=0.5))
    result = await codeact.execute("hangs()")
    assert result.error is not None and result.error.limit == "wall_time"
    await asyncio.wait_for(cancelled.wait(), timeout=5)


async def test_output_cut_is_counted_even_when_a_limit_stops_the_program(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(output_bytes=1000, wall_time=1))
    result = await codeact.execute("while True:\n    print('z' * 99)")
    assert result.error is not None and result.error.limit == "wall_time"
    assert len(result.stdout.encode()) == 1000
    assert result.output_truncated > 10_000  # far more than the limit was printed
