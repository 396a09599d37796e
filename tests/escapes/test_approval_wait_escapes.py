"""Computing while a person decides: the wall-time clock stands still while a call waits for
approval, so nothing of the program may run meanwhile.

On wasm (and hyperlight) the guest has one thread, blocked in the host call. In the jail the
program is a process: its other threads and its signal handlers would go on computing, with
their clock stopped, unbounded by the wall time. The host stops the child while the clock
stands still and lets it go on before the reply. Each program measures the CPU time its
process used across the wait (`time.process_time`, every thread's): stopped, it uses none.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from codeact import CodeAct, Limits, tool
from codeact.calls.approval_handlers import DeferredApprovals
from codeact.calls.approvals import ApprovalRequest
from codeact.sandbox.registry import shared_backend

#: Seconds a person takes to decide, and the CPU time a program may use across that wait
#: (the moments before the host stops it and after it goes on; busy, it would use the wait).
DECIDING = 4.0
CPU_ALLOWED = 0.5


@tool(approval_mode="always_require")
def send_email(to: str) -> str:
    """Sends an email (gated)."""
    return f"sent to {to}"


async def slow_person(request: ApprovalRequest) -> bool:
    await asyncio.sleep(DECIDING)
    return True


@pytest.fixture
def threaded(backend_name: str, make_codeact: Callable[..., CodeAct]) -> Callable[..., CodeAct]:
    if not shared_backend(backend_name).threads:
        pytest.skip(f"{backend_name}: one thread, blocked in the host call while it waits")
    return make_codeact


SPINNER = """
import threading, time
count, going = [0], [True]
def spin():
    while going[0]:
        count[0] += 1
threading.Thread(target=spin, daemon=True).start()
time.sleep(0.2)
"""

THREAD_DURING_CALL = (
    SPINNER
    + """
cpu, t0 = time.process_time(), time.monotonic()
send_email(to="a@b.c")
used, waited = time.process_time() - cpu, time.monotonic() - t0
going[0] = False
(used, waited)
"""
)


async def test_a_thread_does_not_compute_while_a_call_waits_for_approval(
    threaded: Callable[..., CodeAct],
) -> None:
    codeact = threaded(tools=[send_email], approval_handler=slow_person)
    result = await codeact.execute(THREAD_DURING_CALL)
    assert result.ok, result.error
    used, waited = result.value
    assert waited >= DECIDING - 0.5
    assert used < CPU_ALLOWED, f"the program computed {used:.2f}s while a person decided"


SIGNAL_HANDLER = """
import signal, time
busy = [0.0]
def handler(signum, frame):
    start = time.process_time()
    end = time.monotonic() + 0.09
    while time.monotonic() < end:
        pass
    busy[0] += time.process_time() - start
signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
time.sleep(0.3)
before = busy[0]
send_email(to="a@b.c")
during = busy[0] - before
signal.setitimer(signal.ITIMER_REAL, 0)
during
"""


async def test_a_signal_handler_does_not_compute_past_the_wall_time_during_approval(
    threaded: Callable[..., CodeAct],
) -> None:
    # The security tester's program: wall_time 2 s, a person deciding for 4 s, a SIGALRM
    # handler busy 90% of the time. It ends well (the wait does not count), having computed
    # next to nothing during the wait.
    codeact = threaded(tools=[send_email], approval_handler=slow_person, limits=Limits(wall_time=2))
    result = await codeact.execute(SIGNAL_HANDLER)
    assert result.ok, result.error
    assert result.value < CPU_ALLOWED, f"the handler computed {result.value:.2f}s meanwhile"


CONCURRENT = (
    SPINNER
    + """
import asyncio
cpu, t0 = time.process_time(), time.monotonic()
await asyncio.gather(
    call_tool_async("send_email", to="first@x.y"), call_tool_async("send_email", to="last@x.y")
)
used, waited = time.process_time() - cpu, time.monotonic() - t0
going[0] = False
(used, waited)
"""
)


async def test_concurrent_approvals_keep_the_program_stopped_until_the_last_ends(
    threaded: Callable[..., CodeAct],
) -> None:
    async def person(request: ApprovalRequest) -> bool:
        assert request.arguments is not None
        await asyncio.sleep(1.0 if request.arguments["to"] == "first@x.y" else DECIDING)
        return True

    codeact = threaded(tools=[send_email], approval_handler=person)
    result = await codeact.execute(CONCURRENT)
    assert result.ok, result.error
    used, waited = result.value
    assert waited >= DECIDING - 0.5
    assert used < CPU_ALLOWED, f"the program computed {used:.2f}s while a person decided"


async def test_an_approval_timeout_lets_the_program_go_on(
    threaded: Callable[..., CodeAct],
) -> None:
    async def never(request: ApprovalRequest) -> bool:
        await asyncio.sleep(60)
        return True

    code = (
        SPINNER
        + """
try:
    send_email(to="a@b.c")
except ToolDenied as e:
    print(e)
n = count[0]
time.sleep(0.2)
going[0] = False
count[0] > n
"""
    )
    codeact = threaded(tools=[send_email], approval_handler=never, approval_timeout=1.0)
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "no answer within 1s" in result.stdout
    assert result.value is True  # its thread runs again


def _stopped_grandchildren() -> list[int]:
    """Pids of our children's children (the jail's zygote's runs) that are stopped now."""
    ours, stopped = os.getpid(), []
    parents: dict[int, int] = {}
    states: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        states[int(entry.name)], parents[int(entry.name)] = fields[0], int(fields[1])
    for pid, state in states.items():
        if state in ("T", "t") and parents.get(parents[pid]) == ours:
            stopped.append(pid)
    return stopped


async def test_cancelling_while_stopped_for_approval_leaves_nothing_stopped(
    threaded: Callable[..., CodeAct],
) -> None:
    approvals = DeferredApprovals()
    codeact = threaded(tools=[send_email], approval_handler=approvals)
    task = asyncio.ensure_future(codeact.execute(SPINNER + "send_email(to='a@b.c')"))
    assert len(await approvals.wait_pending(timeout=20)) == 1
    await asyncio.sleep(0.2)
    assert len(_stopped_grandchildren()) == 1  # the program, stopped while a person decides
    started = time.monotonic()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert time.monotonic() - started < 5
    for _ in range(200):
        if not _stopped_grandchildren():
            break
        await asyncio.sleep(0.01)
    assert _stopped_grandchildren() == []
    after = await codeact.execute("print('alive')\n6 * 7")
    assert after.ok and after.value == 42, after.error
