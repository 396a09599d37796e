"""The ready-made approval handlers: a terminal's y/n, and answers deferred to an app."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from collections.abc import Iterator

import pytest

from codeact.calls.approval_handlers import (
    ApproveAll,
    DeferredApprovals,
    DenyAll,
    InteractiveApprover,
    PendingApproval,
)
from codeact.calls.approvals import Approval, ApprovalRequest

REQUEST = ApprovalRequest(kind="call", tool="send_email", arguments={"to": "ann@example.com"})


@pytest.fixture
def pipe() -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """(read end, write end) of an OS pipe, as text: a terminal that a test types into."""
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "r"), os.fdopen(w, "w")
    yield reader, writer
    if not writer.closed:
        writer.close()  # the end of input releases a reader thread still waiting on the pipe
    reader.close()


async def test_interactive_shows_the_call_and_reads_yes(
    pipe: tuple[io.TextIOWrapper, io.TextIOWrapper],
) -> None:
    reader, writer = pipe
    shown = io.StringIO()
    approver = InteractiveApprover(input=reader, output=shown)
    writer.write("y\n")
    writer.flush()
    answer = await approver(REQUEST)
    assert answer == Approval(True, "approved at the terminal")
    assert "the program wants to call send_email(to='ann@example.com')" in shown.getvalue()
    assert "approve? [y/N]" in shown.getvalue()


async def test_interactive_anything_but_yes_denies_and_so_does_the_end_of_input(
    pipe: tuple[io.TextIOWrapper, io.TextIOWrapper],
) -> None:
    reader, writer = pipe
    approver = InteractiveApprover(input=reader, output=io.StringIO())
    writer.write("sure\n")
    writer.flush()
    assert (await approver(REQUEST)).reason == "declined at the terminal"
    writer.close()
    denied = await approver(REQUEST)
    assert not denied.approved and denied.reason == "no answer (the input ended)"


async def test_interactive_questions_wait_their_turn_and_never_block_the_loop(
    pipe: tuple[io.TextIOWrapper, io.TextIOWrapper],
) -> None:
    reader, writer = pipe
    shown = io.StringIO()
    approver = InteractiveApprover(input=reader, output=shown)
    first = asyncio.ensure_future(approver(REQUEST))
    second = asyncio.ensure_future(approver(REQUEST))
    await asyncio.sleep(0.05)  # the loop runs while both wait for the terminal
    assert shown.getvalue().count("approve?") == 1  # one question at a time
    writer.write("y\nn\n")
    writer.flush()
    answers = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    assert [a.approved for a in answers] == [True, False]


async def test_interactive_a_line_typed_while_no_question_is_shown_answers_nothing(
    pipe: tuple[io.TextIOWrapper, io.TextIOWrapper],
) -> None:
    reader, writer = pipe
    approver = InteractiveApprover(input=reader, output=io.StringIO())
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(approver(REQUEST), timeout=0.05)
    writer.write("y\n")  # too late for the first question, too early for the next one
    writer.flush()
    await asyncio.sleep(0.2)
    second = asyncio.ensure_future(approver(REQUEST))
    await asyncio.sleep(0.1)
    assert not second.done()  # the stale "y" approved nothing
    writer.write("n\n")
    writer.flush()
    assert not (await asyncio.wait_for(second, timeout=10)).approved
    third = asyncio.ensure_future(approver(REQUEST))
    await asyncio.sleep(0.05)
    writer.write("yes\n")
    writer.flush()
    assert (await asyncio.wait_for(third, timeout=10)).approved


async def test_fixed_policies() -> None:
    assert (await ApproveAll()(REQUEST)).approved
    denied = await DenyAll(reason="read-only mode")(REQUEST)
    assert not denied.approved and denied.reason == "read-only mode"


async def test_deferred_request_is_listed_and_answered_from_another_thread() -> None:
    notified: list[PendingApproval] = []
    approvals = DeferredApprovals(on_request=notified.append)
    waiting = asyncio.ensure_future(approvals(REQUEST))
    [item] = await approvals.wait_pending(timeout=10)
    assert notified == [item] and item.request is REQUEST
    thread = threading.Thread(target=approvals.approve, args=(item.id, "fine by me"))
    thread.start()
    thread.join()
    assert await asyncio.wait_for(waiting, timeout=10) == Approval(True, "fine by me")
    assert approvals.pending() == []


async def test_deferred_unknown_or_answered_ids_are_a_lookup_error() -> None:
    approvals = DeferredApprovals()
    waiting = asyncio.ensure_future(approvals(REQUEST))
    [item] = await approvals.wait_pending(timeout=10)
    approvals.deny(item.id, "no")
    with pytest.raises(LookupError, match="answered already"):
        approvals.approve(item.id)
    with pytest.raises(LookupError):
        approvals.resolve("nope", True)
    assert (await waiting).reason == "no"


async def test_deferred_request_disappears_when_its_waiter_is_cancelled() -> None:
    approvals = DeferredApprovals()
    waiting = asyncio.ensure_future(approvals(REQUEST))
    await approvals.wait_pending(timeout=10)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert approvals.pending() == []


async def test_deferred_wait_pending_returns_empty_after_its_timeout() -> None:
    assert await DeferredApprovals().wait_pending(timeout=0.01) == []


def test_interactive_questions_from_two_event_loops_wait_their_turn(
    pipe: tuple[io.TextIOWrapper, io.TextIOWrapper],
) -> None:
    """One approver for CodeActs on different loops (each `execute_sync` has its own)."""
    reader, writer = pipe
    shown = io.StringIO()
    approver = InteractiveApprover(input=reader, output=shown)
    answers: list[bool] = []

    def ask() -> None:
        answers.append(asyncio.run(approver(REQUEST)).approved)

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    assert shown.getvalue().count("approve?") == 1  # one question at a time
    writer.write("y\n")
    writer.flush()
    time.sleep(0.1)
    writer.write("n\n")
    writer.flush()
    for thread in threads:
        thread.join(10)
    assert sorted(answers) == [False, True], "a question was never asked"
