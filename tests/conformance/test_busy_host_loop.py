"""A program that ended well within its wall time keeps its result when the caller's event
loop was busy past the limit (a slow `on_output` listener, a blocking call in another task):
the supervisor, whose timer comes round only after that, sees that the backend has the
outcome and stops nothing. Was: stopped by `wall_time`, its value lost."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from codeact import CodeAct, Limits, tool

PROGRAM = "print('done quickly')\n42"
#: The loop is busy this long: past wall_time (2 s) and the supervisor's grace.
BUSY = 3.0


def _check(result: object) -> None:
    assert result.ok, result.error  # type: ignore[attr-defined]
    assert result.value == 42  # type: ignore[attr-defined]
    assert result.stdout == "done quickly\n"  # type: ignore[attr-defined]


async def test_a_slow_output_listener_does_not_stop_a_finished_program(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(limits=Limits(wall_time=2))
    await codeact.execute("1")  # warm
    slow = [True]

    def on_output(chunk: object) -> None:
        if slow.pop() if slow else False:
            time.sleep(BUSY)

    _check(await codeact.execute(PROGRAM, on_output=on_output))


async def test_a_busy_loop_does_not_stop_a_finished_program(
    make_codeact: Callable[..., CodeAct],
) -> None:
    reached = threading.Event()

    @tool
    def mark() -> int:
        """The program reached its last line."""
        reached.set()
        return 1

    codeact = make_codeact(tools=[mark], limits=Limits(wall_time=2))
    await codeact.execute("1")  # warm
    # It ends a moment after `mark`, once the loop below is surely blocked.
    program = "print('done quickly')\nmark()\nimport time\ntime.sleep(0.3)\n42"
    task = asyncio.ensure_future(codeact.execute(program))
    while not task.done() and not reached.is_set():  # noqa: ASYNC110 (a thread sets it)
        await asyncio.sleep(0)  # until the program runs (a sync tool runs on its thread)
    # The application's loop is busy (a sync call, a CPU burst) while the program ends.
    assert reached.wait(30)
    time.sleep(BUSY)  # noqa: ASYNC251 (the point of the test)
    _check(await task)
