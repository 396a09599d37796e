"""Live output and events: what a program writes reaches the host as it writes it, on every
backend, in order, and ends with the same result `execute` returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from codeact import CodeAct, Limits, tool
from codeact.runtime.events import (
    ExecutionFinished,
    OutputChunk,
    ToolCallEnded,
    ToolCallStarted,
)


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return key.upper()


async def test_on_output_gets_each_line_before_the_program_ends(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """The first line arrives while the program still sleeps, not with the result. Measured
    against the end of the run, not against the second line's arrival: on a loaded machine
    one line can wait a few tenths of a second for the host's thread (CI saw 'first' arrive
    0.32 s after it was written, and the two lines 0.68 s apart across a 1 s sleep)."""
    codeact = make_codeact()
    seen: list[tuple[float, str]] = []
    result = await codeact.execute(
        "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')",
        on_output=lambda chunk: seen.append((time.monotonic(), chunk.text)),
    )
    ended = time.monotonic()
    assert result.ok, result.error
    assert "".join(text for _, text in seen) == result.stdout == "first\nsecond\n"
    first = next(t for t, text in seen if "first" in text)
    assert ended - first >= 0.5, "the first line came with the result, not as it was printed"


async def test_stream_yields_output_and_calls_in_order_then_the_result(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[lookup])
    events: list[Any] = [
        event async for event in codeact.stream("print('a')\nx = lookup(key='k')\nprint(x)\nx")
    ]
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "OutputChunk",
        "ToolCallStarted",
        "ToolCallEnded",
        "OutputChunk",
        "ExecutionFinished",
    ]
    assert isinstance(events[1], ToolCallStarted) and events[1].name == "lookup"
    assert isinstance(events[2], ToolCallEnded) and events[2].record.outcome == "ok"
    finished = events[-1]
    assert isinstance(finished, ExecutionFinished)
    assert finished.result.value == "K"
    assert "".join(e.text for e in events if isinstance(e, OutputChunk)) == finished.result.stdout


async def test_a_stopped_program_s_last_output_still_arrives(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(wall_time=1))
    chunks: list[OutputChunk] = []
    result = await codeact.execute(
        "print('before the loop')\nwhile True:\n    pass", on_output=chunks.append
    )
    assert not result.ok and result.error is not None and result.error.limit == "wall_time"
    assert "".join(c.text for c in chunks) == "before the loop\n"


async def test_flushed_text_without_a_line_end_arrives_and_survives_a_stop(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """``print(..., end='', flush=True)`` and ``sys.stdout.flush()`` hand the text over at
    once (a progress line before a long computation): flush() did nothing, so the text of a
    program then stopped by a limit was lost, and live output showed it only at the end."""
    codeact = make_codeact(limits=Limits(wall_time=1))
    chunks: list[OutputChunk] = []
    program = (
        "import sys\nprint('progress: 50%', end='', flush=True)\n"
        "sys.stderr.write('warning')\nsys.stderr.flush()\n"
        "sys.stdout.buffer.write(b' bytes')\nsys.stdout.buffer.flush()\nwhile True:\n    pass"
    )
    result = await codeact.execute(program, on_output=chunks.append)
    assert result.error is not None and result.error.limit == "wall_time"
    assert result.stdout == "progress: 50% bytes" and result.stderr == "warning"
    assert "".join(c.text for c in chunks if c.stream == "stdout") == "progress: 50% bytes"


async def test_flushes_past_the_first_64_kib_are_handed_over_in_chunks(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """A flush is handed over as a line end is: each at once for the first 64 KiB, then in
    chunks. Each flush crossed to the host: 100,000 flushed prints took 4.9 s against 1.3 s
    unflushed, one event each."""
    codeact = make_codeact(limits=Limits(output_bytes=1 << 20))
    chunks: list[OutputChunk] = []
    result = await codeact.execute(
        "for i in range(20_000):\n    print(f'{i:09d}', flush=True)", on_output=chunks.append
    )
    assert result.ok and len(result.stdout) == 200_000, result.error
    assert "".join(c.text for c in chunks) == result.stdout
    assert len(chunks) < 7_000, len(chunks)  # 6,554 lines fill 64 KiB, then 8 KiB chunks


async def test_a_line_after_a_pause_comes_whole(make_codeact: Callable[..., CodeAct]) -> None:
    """After a sleep or a tool call, `print('b')` came as 'b' and then '\\n' (the time since
    the last hand-over had passed): a consumer taking each chunk as a line saw a blank one."""
    chunks: list[str] = []
    program = "import time\nprint('a')\ntime.sleep(0.3)\nprint('b')\nlookup(key='k')\nprint('c')"
    result = await make_codeact(tools=[lookup]).execute(
        program, on_output=lambda chunk: chunks.append(chunk.text)
    )
    assert result.ok, result.error
    assert all(c.endswith("\n") for c in chunks), chunks
    assert "".join(chunks) == "a\nb\nc\n"


async def test_stderr_chunks_are_marked_as_stderr(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact()
    chunks: list[OutputChunk] = []
    await codeact.execute("import sys\nsys.stderr.write('oops\\n')", on_output=chunks.append)
    assert [(c.stream, c.text) for c in chunks] == [("stderr", "oops\n")]


async def test_a_failing_listener_does_not_fail_the_program(
    make_codeact: Callable[..., CodeAct],
) -> None:
    def broken(chunk: OutputChunk) -> None:
        raise RuntimeError("listener bug")

    result = await make_codeact().execute("print('hi')\n1 + 1", on_output=broken)
    assert result.ok and result.value == 2 and result.stdout == "hi\n"


async def test_the_output_limit_applies_to_live_output(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(wall_time=20, output_bytes=1000))
    chunks: list[OutputChunk] = []
    result = await codeact.execute(
        "for i in range(500):\n    print('x' * 20)", on_output=chunks.append
    )
    live = "".join(c.text for c in chunks)
    assert live == result.stdout
    assert len(live.encode()) <= 1000
    assert result.output_truncated > 0
