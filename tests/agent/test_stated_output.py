"""A filler reply after a program's output states nothing (``dropped_output``), whatever its
"no", "not", "n't" or "one"; a yes, a no or a number in words states the output only when the
output is that value.

A change of the same day took any "no"-word anywhere in a reply as the answer when any output
line ended in None/False/0/[], and "one" when the output held a 1: "Done! Don't hesitate to
ask..." after ``Top customer: Diana with 120.50`` and the ``None`` of ``print(main())`` was
accepted, and the value never stated.
"""

from __future__ import annotations

import pytest

from codeact import Agent, CodeAct
from codeact.agent.stated_output import drops_output
from codeact.testing import ScriptedChat, code_call


@pytest.mark.parametrize(
    ("printed", "answer"),
    [
        (
            "Top customer: Diana with 120.50\nNone\n",
            "Done! Don't hesitate to ask if you need more.",
        ),
        ("Top customer: Diana with 120.50\nNone\n", "Done! Don\u2019t hesitate to ask."),
        ("total: 1234.50\nerrors: []\n", "Thank you for the response! No problem."),
        ("found: False\n", "Done! Don't hesitate to ask if you need anything else."),
        ("found: False\n", "Done, no worries. Not sure what else you need."),
        ("winner: Diana\nties: 0\n", "The program ran fine, nothing else to report."),
        ("Diana: 120.50\nRank: 1\n", "Done. Let me know if you need one more thing."),
        ("count: 2\nmax: 3\n", "Two steps done, three to go? Let me know."),
        # A yes or a no in words where the output is not all that yes or that no.
        ("checked: True\nfound: False\n", "Yes."),
        ("total: 1234.50\nerrors: []\n", "No."),
    ],
)
def test_a_filler_reply_states_nothing_of_the_output(printed: str, answer: str) -> None:
    assert drops_output(answer, printed)


@pytest.mark.parametrize(
    ("printed", "answer"),
    [
        ("True\n", "Yes."),
        ("a: True\nb: True\n", "Yes, both are."),
        ("False\n", "No."),
        ("found: False\n", "No, it isn\u2019t there."),
        ("[]\n", "There are no matching orders."),
        ("0\n", "Zero."),
        ("1\n", "One."),
        ("3\n", "Three users."),
        # The None of print(main()) after the value is no part of the value.
        ("found: False\nNone\n", "No, it is not there."),
        ("Top customer: Diana with 120.50\nNone\n", "Diana is the top customer."),
        ("Top customer: Diana with 120.50\nNone\n", "The top total is 120.5."),
    ],
)
def test_a_value_stated_in_words_or_digits_keeps_the_output(printed: str, answer: str) -> None:
    assert not drops_output(answer, printed)


@pytest.mark.usefixtures("wasm_ready")
async def test_a_filler_reply_after_print_main_is_asked_for_the_value() -> None:
    program = "def main():\n    print('Top customer: Diana with 120.50')\nprint(main())"
    filler = "Done! Don't hesitate to ask if you need anything else."
    answer = "Diana is the top customer with 120.50."
    chat = ScriptedChat([code_call(program), filler, answer])
    result = await Agent(client=chat, codeact=CodeAct()).run("Who is the top customer?")
    assert result.nudge_reasons == ["dropped_output"] and result.text == answer


@pytest.mark.parametrize(
    ("printed", "answer"),
    [
        ("True\n", "Yes."),
        ("found: True\n", "Correct, it is there."),
        ("true", "Yes, it does."),  # a value shown as JSON
        ("False\n", "No."),
        ("False\n", "It isn't."),
        ("[]\n", "There are no matching orders."),
        ("orders = []\n", "None match."),
        ("{}\n", "The mapping is empty."),
        ("None\n", "Nothing was found."),
        ("null", "There is none."),
        ("0\n", "There are no late orders."),
        ("0\n", "Zero."),
        ("3\n", "Three users."),
    ],
)
def test_a_yes_a_no_or_a_count_stated_in_words_keeps_the_output(printed: str, answer: str) -> None:
    # Each was nudged as dropped_output: a turn more with the whole history, and the right
    # answer replaced by the next reply.
    assert not drops_output(answer, printed)


@pytest.mark.parametrize(
    ("printed", "answer"),
    [("True\n", "Done."), ("[]\n", "Thank you for the response!"), ("3\n", "Done.")],
)
def test_a_reply_stating_no_value_still_drops_a_yes_or_a_no(printed: str, answer: str) -> None:
    assert drops_output(answer, printed)


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize(
    ("program", "answer"),
    [("print(5 > 3)", "Yes."), ("print([])", "There are no matching orders.")],
)
async def test_an_answer_in_words_after_a_bool_or_an_empty_list_is_the_answer(
    program: str, answer: str
) -> None:
    chat = ScriptedChat([code_call(program), answer, "(second reply)"])
    agent = Agent(client=chat, codeact=CodeAct(backend="wasm"))
    result = await agent.run("Is 5 larger than 3? / Any orders?")
    assert result.nudge_reasons == [] and result.text == answer
    assert result.usage.model_turns == 2
