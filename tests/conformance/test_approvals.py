"""Approvals inside the code block: each gated call pauses the program until a handler answers.

Everything here runs real programs in the sandbox under test; handlers are plain async
functions of the test, or the library's `DeferredApprovals`. Approvals of the whole block
are in test_block_approvals.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from codeact import CodeAct, Limits
from codeact.calls.approval_handlers import DeferredApprovals
from codeact.calls.approvals import Approval, ApprovalRequest

from .gated_tools import SENT, lookup, send_email, sent_after


async def _still_healthy(codeact: CodeAct) -> None:
    after = await codeact.execute("lookup('ok')")
    assert after.ok and after.value == "OK"


async def test_approved_call_runs_and_handler_sees_tool_arguments_code_and_calls_so_far(
    make_codeact: Callable[..., CodeAct],
) -> None:
    seen: list[ApprovalRequest] = []

    async def handler(request: ApprovalRequest) -> bool:
        seen.append(request)
        return True

    code = "lookup('a')\nsend_email(to='ann@example.com', body='hi')"
    before = len(SENT)
    result = await make_codeact(tools=[send_email, lookup], approval_handler=handler).execute(code)
    assert result.ok, result.error
    assert result.value == "sent to ann@example.com"
    assert sent_after(before) == ["ann@example.com"]
    [request] = seen
    assert request.kind == "call" and request.tool == "send_email"
    assert dict(request.arguments or {}) == {"to": "ann@example.com", "body": "hi"}
    assert request.code == code
    assert [c.name for c in request.calls] == ["lookup"]
    record = result.tool_calls[1]
    assert (record.decision, record.handler, record.outcome) == ("approved", "handler", "ok")
    assert result.tool_calls[0].decision == "not_required"


async def test_denied_call_raises_catchable_tool_denied_and_the_program_goes_on(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def handler(request: ApprovalRequest) -> Approval:
        assert request.arguments is not None
        if request.arguments["to"] == "boss@example.com":
            return Approval.deny("never email the boss")
        return Approval.approve()

    code = """
results = []
for to in ["ann@example.com", "boss@example.com", "bob@example.com"]:
    try:
        results.append(send_email(to=to))
    except ToolDenied as e:
        results.append("denied: " + str(e))
results.append(lookup("after"))
results
"""
    before = len(SENT)
    codeact = make_codeact(tools=[send_email, lookup], approval_handler=handler)
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value[0] == "sent to ann@example.com"
    assert result.value[1].startswith("denied: ")
    assert "never email the boss" in result.value[1]
    assert result.value[2:] == ["sent to bob@example.com", "AFTER"]
    assert sent_after(before) == ["ann@example.com", "bob@example.com"]
    assert [(c.decision, c.outcome) for c in result.tool_calls] == [
        ("approved", "ok"),
        ("denied", "denied"),
        ("approved", "ok"),
        ("not_required", "ok"),
    ]
    assert result.tool_calls[1].reason == "never email the boss"


async def test_uncaught_denial_is_a_tool_denied_error_at_the_calling_line(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def handler(request: ApprovalRequest) -> bool:
        return False

    result = await make_codeact(tools=[send_email], approval_handler=handler).execute(
        "x = 1\nsend_email(to='a@b.c')\n"
    )
    assert not result.ok and result.error is not None
    assert result.error.type == "ToolDenied"
    assert result.error.lineno == 2
    assert "send_email() was denied" in result.error.message


async def test_no_answer_within_the_approval_timeout_denies(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def slow(request: ApprovalRequest) -> bool:
        await asyncio.sleep(30)
        return True

    before = len(SENT)
    codeact = make_codeact(tools=[send_email, lookup], approval_handler=slow, approval_timeout=0.3)
    code = "try:\n    send_email(to='a@b.c')\nexcept ToolDenied as e:\n    print(e)\nlookup('x')"
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "no answer within 0.3s" in result.stdout
    assert result.value == "X"
    assert sent_after(before) == []
    assert result.tool_calls[0].decision == "denied"
    assert result.tool_calls[0].handler == "slow"


async def test_a_plain_function_handler_that_blocks_is_denied_at_the_timeout(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """A plain function ran on the event loop: blocking 2 s, it froze every other task of the
    loop (interrupts too) and was approved after its timeout had long passed."""
    release = threading.Event()

    def slow(request: ApprovalRequest) -> bool:
        release.wait(5)
        return True

    before = len(SENT)
    codeact = make_codeact(tools=[send_email, lookup], approval_handler=slow, approval_timeout=0.3)
    code = "try:\n    send_email(to='a@b.c')\nexcept ToolDenied as e:\n    print(e)\nlookup('x')"
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    beating = asyncio.ensure_future(heartbeat())
    try:
        result = await codeact.execute(code)
    finally:
        beating.cancel()
        release.set()
    assert result.ok, result.error
    assert "no answer within 0.3s" in result.stdout  # was: approved once it returned
    assert sent_after(before) == []
    assert ticks >= 2  # the loop went on while the handler blocked


async def test_handlers_that_outlived_their_timeout_leave_the_next_question_asked(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # They ran on the loop's default executor (6 workers here): after 6 timeouts the next
    # questions were denied on timeout without the handler ever being called.
    release = threading.Event()
    called: list[str] = []

    def handler(request: ApprovalRequest) -> bool:
        called.append(str((request.arguments or {}).get("to")))
        if request.arguments and request.arguments.get("to") != "last@x.y":
            release.wait(20)
        return True

    codeact = make_codeact(tools=[send_email], approval_handler=handler, approval_timeout=0.2)
    try:
        for i in range(10):
            code = f"try:\n    send_email(to='{i}@x.y')\nexcept ToolDenied:\n    pass"
            await codeact.execute(code)
        result = await codeact.execute("send_email(to='last@x.y')")
    finally:
        release.set()
    assert result.ok, result.error
    assert called[-1] == "last@x.y" and len(called) == 11


async def test_a_handler_that_raises_denies_with_the_reason_recorded(
    make_codeact: Callable[..., CodeAct], caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: ApprovalRequest) -> bool:
        raise RuntimeError("approval service at http://10.9.9.9/?key=SECRET is down")

    before = len(SENT)
    codeact = make_codeact(tools=[send_email, lookup], approval_handler=broken)
    code = "try:\n    send_email(to='a@b.c')\nexcept ToolDenied as e:\n    print(e)\n'went on'"
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value == "went on"
    # What the handler raised is the host's (its URL, a key): the program and the record get
    # its type, the host's log all of it.
    assert "approval handler failed (RuntimeError)" in result.stdout
    record = result.tool_calls[0]
    assert (record.decision, record.outcome, record.handler) == ("denied", "denied", "broken")
    assert "approval handler failed (RuntimeError)" in (record.reason or "")
    assert "SECRET" not in result.stdout + repr(result.tool_calls)
    assert "SECRET" in caplog.text
    assert sent_after(before) == []
    await _still_healthy(codeact)


async def test_a_handler_returning_something_else_denies(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def confused(request: ApprovalRequest) -> str:
        return "yes please, token=SECRET"

    codeact = make_codeact(tools=[send_email], approval_handler=confused)
    code = "try:\n    send_email(to='a@b.c')\nexcept ToolDenied as e:\n    print(e)"
    result = await codeact.execute(code)
    assert "returned a str; it must return True, False or an Approval" in result.stdout
    assert "SECRET" not in result.stdout


async def test_without_a_handler_gated_calls_are_denied_and_say_how_to_fix(
    make_codeact: Callable[..., CodeAct],
) -> None:
    result = await make_codeact(tools=[send_email]).execute("send_email(to='a@b.c')")
    assert result.error is not None and result.error.type == "ToolDenied"
    assert "no approval handler is configured" in result.error.message
    assert "approval_handler=" in result.error.message


async def test_waiting_for_a_person_does_not_count_against_wall_time(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def thoughtful(request: ApprovalRequest) -> bool:
        await asyncio.sleep(1.5)  # three times the program's whole wall-time limit
        return True

    codeact = make_codeact(
        tools=[send_email, lookup], approval_handler=thoughtful, limits=Limits(wall_time=0.5)
    )
    code = (
        "a = send_email(to='a@b.c')\nb = send_email(to='d@e.f')\n"
        "import time\ntime.sleep(0.1)\n[a, b]"
    )
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value == ["sent to a@b.c", "sent to d@e.f"]
    assert all(c.approval_ms >= 1400 for c in result.tool_calls)


async def test_wall_time_counts_again_once_the_approval_is_given(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def thoughtful(request: ApprovalRequest) -> bool:
        await asyncio.sleep(0.8)
        return True

    codeact = make_codeact(
        tools=[send_email, lookup], approval_handler=thoughtful, limits=Limits(wall_time=0.5)
    )
    result = await codeact.execute("send_email(to='a@b.c')\nwhile True:\n    pass\n")
    assert result.error is not None and result.error.limit == "wall_time"
    assert result.tool_calls[0].outcome == "ok"
    await _still_healthy(codeact)


async def test_gated_calls_started_with_call_tool_async_wait_for_their_approval(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def handler(request: ApprovalRequest) -> bool:
        await asyncio.sleep(0.05)
        return bool(request.arguments["to"] != "no@x.y")

    code = """
import asyncio
async def send(to):
    try:
        return await call_tool_async("send_email", to=to)
    except ToolDenied:
        return "denied " + to
await asyncio.gather(send("yes@x.y"), send("no@x.y"), call_tool_async("lookup", name="z"))
"""
    codeact = make_codeact(tools=[send_email, lookup], approval_handler=handler)
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value == ["sent to yes@x.y", "denied no@x.y", "Z"]


async def test_deferred_handler_is_resolved_from_another_task(
    make_codeact: Callable[..., CodeAct],
) -> None:
    approvals = DeferredApprovals()
    codeact = make_codeact(tools=[send_email], approval_handler=approvals)

    async def reviewer() -> list[str]:
        answered = []
        for verdict in (True, False):
            pending = await approvals.wait_pending(timeout=20)
            assert len(pending) == 1
            item = pending[0]
            assert item.request.tool == "send_email"
            approvals.resolve(item.id, verdict, "ok by the reviewer" if verdict else "no")
            answered.append(item.id)
            assert approvals.pending() == []  # answered requests leave the list at once
        return answered

    code = """
out = [send_email(to="first@x.y")]
try:
    send_email(to="second@x.y")
except ToolDenied as e:
    out.append(str(e))
out
"""
    result, answered = await asyncio.gather(codeact.execute(code), reviewer())
    assert result.ok, result.error
    assert result.value[0] == "sent to first@x.y"
    assert result.value[1].endswith(": no")
    assert len(set(answered)) == 2
    assert result.tool_calls[0].reason == "ok by the reviewer"
    assert result.tool_calls[0].handler == "deferred"
    assert approvals.pending() == []


async def test_cancelling_an_execution_while_an_approval_waits_leaves_nothing_behind(
    make_codeact: Callable[..., CodeAct],
) -> None:
    approvals = DeferredApprovals()
    codeact = make_codeact(tools=[send_email, lookup], approval_handler=approvals)
    task = asyncio.ensure_future(codeact.execute("send_email(to='a@b.c')"))
    pending = await approvals.wait_pending(timeout=20)
    assert len(pending) == 1
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    for _ in range(100):
        if not approvals.pending():
            break
        await asyncio.sleep(0.01)
    assert approvals.pending() == []
    await _still_healthy(codeact)


@pytest.mark.parametrize("stop", ["interrupt", "cancel"])
async def test_an_answer_for_a_program_that_already_ended_is_refused(
    make_codeact: Callable[..., CodeAct], stop: str
) -> None:
    approvals = DeferredApprovals()
    codeact = make_codeact(tools=[send_email, lookup], approval_handler=approvals)
    task = asyncio.ensure_future(codeact.execute("send_email(to='late@b.c')"))
    (item,) = await approvals.wait_pending(timeout=20)
    if stop == "interrupt":
        codeact.interrupt()
        result = await task
        assert not result.ok
    else:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # Right as the result is back (not some loop turns later) the request is gone.
    assert approvals.pending() == []
    with pytest.raises(LookupError, match="its program ended"):
        approvals.approve(item.id, "a late click")
    assert "late@b.c" not in SENT
    await _still_healthy(codeact)
