"""A program stopped by a denial (a person said no to a gated call, or to the whole block)
is not a failed program to fix: the model may answer, and saying it was not done is an answer.

It was treated as one: the honest "I could not pay Bob" was rejected twice as
`failed_program` ("Read the traceback, fix the program and run it again"), the next requests
forced ``tool_choice="required"``, and a model that obeyed retried the payment, so the
person was asked again.
"""

from __future__ import annotations

import pytest

from codeact import Agent, Approval, ApprovalRequest, CodeAct, tool
from codeact.testing import ScriptedChat, code_call

pytestmark = pytest.mark.usefixtures("wasm_ready")


@tool(approval_mode="always_require")
def pay(to: str, amount: float) -> str:
    """Pay someone (a person must approve)."""
    return f"paid {amount} to {to}"


@tool
def balance() -> float:
    """The balance."""
    return 120.0


class Person:
    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, request: ApprovalRequest) -> Approval:
        self.asked += 1
        return Approval.deny("not today")


@pytest.mark.parametrize("scope", ["call", "block"])
async def test_an_answer_after_a_denial_is_the_answer(scope: str) -> None:
    person = Person()
    codeact = CodeAct(tools=[pay, balance], approval_handler=person, approval_scope=scope)  # type: ignore[arg-type]
    chat = ScriptedChat(
        [
            code_call("print(balance())\nprint(pay(to='bob', amount=50))"),
            "I could not pay Bob: the payment was refused.",
            "(a second reply)",
        ]
    )
    result = await Agent(client=chat, codeact=codeact).run("Pay Bob 50")
    assert result.text == "I could not pay Bob: the payment was refused."
    assert result.nudge_reasons == [] and result.usage.model_turns == 2
    assert chat.requests[1].tool_choice is None  # the model is not held to a call
    assert person.asked == 1
    told = chat.requests[1].messages[-1].content or ""
    assert "was denied: a decision, not an error to fix" in told


async def test_the_denied_program_sent_again_does_not_ask_the_person_again() -> None:
    person = Person()
    chat = ScriptedChat(
        [
            code_call("print(pay(to='bob', amount=50))"),
            code_call('print(pay(to="bob", amount=50))'),  # the same program
            "I could not pay Bob.",
        ]
    )
    codeact = CodeAct(tools=[pay], approval_handler=person)
    result = await Agent(client=chat, codeact=codeact).run("Pay Bob 50")
    assert person.asked == 1 and result.usage.code_executions == 1
    assert "pay() was denied; it was not run again" in (chat.requests[2].messages[-1].content or "")
    assert result.text == "I could not pay Bob." and result.nudge_reasons == []


async def test_a_program_that_failed_without_a_denial_is_still_a_failed_program() -> None:
    chat = ScriptedChat([code_call("print(1/0)"), "It is infinite.", "Still.", "Still."])
    result = await Agent(client=chat, codeact=CodeAct()).run("1/0?")
    assert result.nudge_reasons[0] == "failed_program"
    assert chat.requests[1].tool_choice == "required"


async def test_a_program_that_caught_the_denial_and_then_failed_is_a_failed_program() -> None:
    """The denial was handled by the program; what failed after it is the program's own slip,
    which the model is asked to fix, not a decision to report."""
    program = (
        "try:\n    pay(to='bob', amount=50)\nexcept ToolDenied:\n    pass\nprint({}['missing'])"
    )
    chat = ScriptedChat([code_call(program), "Done.", "Still.", "Still."])
    codeact = CodeAct(tools=[pay], approval_handler=Person())
    result = await Agent(client=chat, codeact=codeact).run("Pay Bob 50")
    assert result.nudge_reasons[0] == "failed_program"
    assert chat.requests[1].tool_choice == "required"
