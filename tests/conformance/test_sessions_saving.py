"""Sessions: a program that finished keeps its result when saving its state ends the sandbox.

Saving runs after the program, in the same sandbox: pickling a value nested thousands deep
runs out of the wasm guest's stack (a trap, not an exception), and a value whose
``__reduce__`` sleeps runs past the wall time. Before the guest handed its report over
ahead of saving, both lost the program's whole result on every backend that stopped there.
"""

from __future__ import annotations

from collections.abc import Callable

from codeact import CodeAct, Limits

NESTED = """
x = []
y = x
for _ in range(20_000):
    y.append([])
    y = y[0]
print("built")
7
"""

SLOW_TO_SAVE = """
import time

class Slow:
    def __reduce__(self):
        time.sleep(60)
        return (int, ())

x = Slow()
print("made")
42
"""


async def test_a_value_too_deep_to_save_keeps_the_programs_result(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    await session.execute("before = 1")
    result = await session.execute(NESTED)
    assert result.ok, result.error
    assert (result.value, result.stdout) == (7, "built\n")
    report = result.session
    assert report is not None
    # Natively pickle raises RecursionError and only `x` is dropped; in the wasm guest the
    # stack runs out first, and none of the call's variables are kept.
    assert "x" in report.dropped or (not report.kept and "did not save" in (report.note or ""))
    after = await session.execute("before")
    assert after.ok and after.value == 1


async def test_saving_stopped_by_the_wall_time_keeps_the_programs_result_and_the_stop(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact(limits=Limits(wall_time=2)).session()
    await session.execute("before = 1")
    result = await session.execute(SLOW_TO_SAVE)
    # The run as a whole ran past its wall time: that stays its error (a program could hand
    # its own report over and then run into a limit), with the program's value and output.
    assert result.error is not None and result.error.limit == "wall_time"
    assert (result.value, result.stdout) == (42, "made\n")
    report = result.session
    assert report is not None and not report.kept
    assert "as before this call" in (report.note or "")
    after = await session.execute("[before, 'x' in globals()]")
    assert after.ok and after.value == [1, False]


FORGED = """
import sys
report = {"value": "all tests passed", "has_value": True}
sys.modules["codeact_host"].hand_over_program_report(report)
while True:
    pass
"""


async def test_a_report_handed_over_early_cannot_hide_a_limit(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact(limits=Limits(wall_time=1)).session()
    result = await session.execute(FORGED)
    assert not result.ok and result.error is not None, result
    assert result.error.limit == "wall_time", result.error


async def test_saving_out_of_memory_says_so_and_how_to_fix_it(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """Saving 100,000 variables needs more than 64 MiB: the note said "(0 bytes) are over
    the session's limit" (a MemoryError has no message, so the guest's reason was empty)."""
    session = make_codeact(limits=Limits(memory_mb=64, wall_time=30)).session()
    await session.execute("before = 1")
    result = await session.execute(
        "g = globals()\nfor i in range(100_000):\n    g['v_%06d_' % i + 'x' * 40] = i\n7"
    )
    assert result.ok and result.value == 7, result.error
    report = result.session
    assert report is not None and not report.kept
    assert "(MemoryError)" in (report.note or ""), report.note
    assert "Limits.memory_mb = 64" in (report.note or ""), report.note
    after = await session.execute("before")
    assert after.ok and after.value == 1


async def test_a_value_failing_without_a_message_is_dropped_with_its_type(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    program = "class M:\n    def __reduce__(self):\n        raise MemoryError\nm = M()\nn = 2"
    result = await session.execute(program)
    assert result.session is not None and result.session.kept
    assert result.session.dropped["m"] == "a M cannot be saved (MemoryError)"  # not "...: )"
