"""A final answer that shows code is the answer: nothing in it runs. A small model's reply
that is its program written as text (no native call) still runs.

With the text fallback on (the default), the first ```python block, or any untagged fence, of
a reply without a native call ran as an execute_code call: an answer saying "I have NOT sent
it; send it with send_email(...)" sent the email, and ``pip install requests`` ran as Python,
failed, and the model's answers were then rejected as `failed_program`.
"""

from __future__ import annotations

import pytest

from codeact import Agent, CodeAct, tool
from codeact.testing import ScriptedChat, code_call

pytestmark = pytest.mark.usefixtures("wasm_ready")

sent: list[str] = []


@tool
def send_email(to: str, body: str) -> str:
    """Send an email."""
    sent.append(to)
    return "sent"


@tool
def list_users() -> list[str]:
    """The users."""
    return ["ann", "bob"]


DRAFT = (
    "Here is the draft; I have NOT sent it. When you are ready, send it with:\n"
    "```python\nsend_email(to='boss@example.com', body='I quit')\n```"
)


async def test_an_answer_with_example_code_is_the_answer_and_nothing_runs() -> None:
    sent.clear()
    chat = ScriptedChat([DRAFT, "ok"])
    result = await Agent(client=chat, codeact=CodeAct(tools=[send_email])).run("Draft it")
    assert sent == [] and result.executions == [] and result.usage.fallback_parses == 0
    assert result.text == DRAFT and result.nudge_reasons == []


async def test_typographic_apostrophes_do_not_hide_that_the_code_is_shown() -> None:
    # "haven’t" / "you’re" as chat models write them: the email was sent.
    draft = DRAFT.replace("have NOT", "haven\u2019t").replace("you are", "you\u2019re")
    sent.clear()
    chat = ScriptedChat([draft, "ok"])
    result = await Agent(client=chat, codeact=CodeAct(tools=[send_email])).run("Draft it")
    assert sent == [] and result.executions == [] and result.text == draft


async def test_shell_lines_in_an_answer_do_not_run() -> None:
    answer = "Install it first:\n```\npip install requests\n```\nThen you are done."
    chat = ScriptedChat([answer, "Install it with pip."])
    result = await Agent(client=chat, codeact=CodeAct()).run("How do I install requests?")
    assert result.executions == [] and result.text == answer and result.nudge_reasons == []


async def test_an_answer_awaiting_confirmation_sends_nothing() -> None:
    # "The call would be: send_email(...)" sent the email the answer waited to confirm.
    answer = (
        "I'll wait for your confirmation before sending anything. The call would be:\n"
        "```python\nsend_email(to='all-staff@example.com', body='Closed tomorrow')\n```\n"
        "Shall I go ahead?"
    )
    sent.clear()
    chat = ScriptedChat([answer, "ok"])
    result = await Agent(client=chat, codeact=CodeAct(tools=[send_email])).run("Draft it")
    assert sent == [] and result.executions == [] and result.text == answer


async def test_install_steps_then_code_to_use_are_the_answer() -> None:
    # The python fence after a bash fence ran, failed on the missing package, and two
    # failed_program nudges replaced the answer.
    answer = (
        "Install it first:\n```bash\npip install requests\n```\nThen:\n"
        "```python\nimport requests\nprint(requests.get('https://example.com').status_code)\n```"
    )
    chat = ScriptedChat([answer, "Install it with pip.", "Install it with pip."])
    result = await Agent(client=chat, codeact=CodeAct()).run("How do I fetch a page?")
    assert result.executions == [] and result.nudge_reasons == [] and result.text == answer
    assert result.usage.fallback_parses == 0


async def test_a_small_model_reply_that_is_just_a_program_still_runs() -> None:
    chat = ScriptedChat(["```python\nprint(len(list_users()))\n```", "There are 2 users."])
    result = await Agent(client=chat, codeact=CodeAct(tools=[list_users])).run("How many?")
    assert result.usage.fallback_parses == 1 and result.executions[0].stdout == "2\n"
    assert result.text == "There are 2 users."


async def test_after_a_native_call_a_fenced_program_in_a_reply_is_the_answer() -> None:
    answer = "There are 2 users. I counted them with:\n```python\nprint(len(list_users()))\n```"
    chat = ScriptedChat([code_call("print(len(list_users()))"), answer])
    result = await Agent(client=chat, codeact=CodeAct(tools=[list_users])).run("How many?")
    assert result.usage.code_executions == 1 and result.usage.fallback_parses == 0
    assert result.text == answer


class TextCallingChat(ScriptedChat):
    """A client that reads the model's calls out of its text itself (as LocalChat's prompt
    modes do): its calls are no sign that the model calls tools natively."""

    reads_calls_from_text = True


async def test_a_client_that_reads_calls_from_text_keeps_the_fallback_for_fences() -> None:
    chat = TextCallingChat(
        [
            code_call("users = list_users()"),
            "```python\nprint(len(list_users()))\n```",
            "There are 2 users.",
        ]
    )
    result = await Agent(client=chat, codeact=CodeAct(tools=[list_users])).run("How many?")
    assert result.usage.code_executions == 2 and result.usage.fallback_parses == 1
    assert result.text == "There are 2 users."
