"""Approvals asked in rounds of one MCP call, for clients on protocol 2026-07-28 or newer.

From that protocol version on, a server cannot send the client a question while a call runs.
It ends the round instead with an ``InputRequiredResult`` (the questions, and an opaque
``request_state``), and the client calls again with the answers and that state. A program
cannot be re-run for every round (its calls before the question would run twice), so
`ProgramRounds` keeps it paused, waiting at its gated call, between the rounds: the next round
finds it by its state, hands it the answers, and waits for the next question or the end.

Between rounds nothing of the program runs but what it had started; a question left
unanswered until the approval timeout stops the program (it never goes on unseen), and an
answer that comes after that gets an error result.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Mapping
from typing import Any

import mcp_types

from ...calls.approvals import Approval, ApprovalRequest
from ...runtime import ExecutionResult

__all__ = ["ProgramGone", "ProgramRounds", "answer_from_form"]


class ProgramGone(Exception):
    """The program of these rounds was stopped (a question went unanswered, or it was ended)."""


def answer_from_form(response: Any) -> Approval:
    """The person's answer, from the client's elicitation result (anything else is a no)."""
    if not isinstance(response, mcp_types.ElicitResult):
        return Approval.deny("the MCP client answered the question with something else")
    if response.action == "decline":
        return Approval.deny("declined by the MCP client's user")
    if response.action != "accept":
        return Approval.deny("the MCP client's user cancelled the question")
    content = response.content or {}
    if content.get("approve") is True:
        return Approval.approve(str(content.get("reason") or "approved by the MCP client's user"))
    return Approval.deny(str(content.get("reason") or "declined by the MCP client's user"))


class ProgramRounds:
    """One program whose approvals are asked over the rounds of its MCP call."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.state = secrets.token_urlsafe(24)  # only the client of the call learns it
        self._task: asyncio.Future[ExecutionResult] | None = None
        self._questions: dict[str, tuple[ApprovalRequest, asyncio.Future[Approval]]] = {}
        self._asked: set[str] = set()
        self._keys = itertools.count(1)
        self._news = asyncio.Event()
        self._on_stop: list[Any] = []

    def start(self, execution: Awaitable[ExecutionResult]) -> None:
        """Run the program (made in the context whose approver asks through this object)."""
        self._task = asyncio.ensure_future(execution)
        self._task.add_done_callback(lambda _: self._news.set())

    def on_stop(self, callback: Any) -> None:
        self._on_stop.append(callback)

    async def ask(self, request: ApprovalRequest) -> Approval:
        """Called by the approver at a gated call: wait for the answer a later round brings."""
        key = f"approve-{next(self._keys)}"
        answer: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()
        self._questions[key] = (request, answer)
        self._news.set()
        try:
            return await answer
        except asyncio.CancelledError:
            # The approval timed out (or the program is being stopped): nobody will answer,
            # so the program stops here rather than going on with nobody to see it.
            self.stop()
            raise
        finally:
            self._questions.pop(key, None)

    def answer(self, responses: Mapping[str, Any] | None) -> None:
        """The answers a round brought; a question asked but not answered is a no."""
        for key, (_, future) in list(self._questions.items()):
            if key in self._asked and not future.done():
                response = (responses or {}).get(key)
                future.set_result(
                    answer_from_form(response)
                    if response is not None
                    else Approval.deny("the MCP client sent no answer")
                )

    async def next_stop(self) -> ExecutionResult | dict[str, ApprovalRequest]:
        """The program's result, or the questions it waits on that were not asked yet."""
        assert self._task is not None
        try:
            while True:
                new = {k: q[0] for k, q in self._questions.items() if k not in self._asked}
                if new:
                    self._asked.update(new)
                    return new
                if self._task.cancelled():
                    raise ProgramGone("the program was stopped while it waited for an answer")
                if self._task.done():
                    return self._task.result()
                self._news.clear()
                await self._news.wait()
        except asyncio.CancelledError:
            self.stop()  # the client gave up on the call: so does the program
            raise

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        callbacks, self._on_stop = self._on_stop, []
        for callback in callbacks:
            callback()
