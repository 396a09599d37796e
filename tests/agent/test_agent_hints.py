"""The hints and notes a program's result carries to the model, with a scripted model: a key
read from the wrong tool's result, a loop's variable read after the loop ended (and the one
request to fix the program before answering from its output), a last line that stops inside
a string (closed, and the program run). The other nudges are test_agent_nudges.py."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import Agent, CodeAct
from codeact.testing import ScriptedChat, code_call
from codeact.workloads import order_totals


def last_user(chat: ScriptedChat, request: int) -> str:
    return chat.requests[request].messages[-1].content or ""


def codeact_agent(chat: ScriptedChat, **kwargs: Any) -> Agent:
    return Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"), **kwargs)


def test_a_missing_key_hint_names_the_tool_whose_result_has_it() -> None:
    from codeact.agent.key_hints import missing_key_hint

    message = "\"'region' (this dict from a tool has the keys: 'product', 'qty', 'unit_price')\""
    hint = missing_key_hint("KeyError", message, order_totals.TOOLS)
    assert hint is not None
    assert hint.startswith("[hint] 'region' is a key of User, which list_users() returns")
    # A key no tool returns, another error, or a KeyError of the program's own dict: nothing.
    nowhere = message.replace("region", "colour")
    assert missing_key_hint("KeyError", nowhere, order_totals.TOOLS) is None
    assert missing_key_hint("TypeError", message, order_totals.TOOLS) is None
    assert missing_key_hint("KeyError", "'region'", order_totals.TOOLS) is None


def test_the_key_hint_names_the_variable_that_holds_the_right_dict() -> None:
    """A small model did not map "a key of User" to its own `user`: where a loop around the
    failing line takes the items of the tool that has the key, the hint names that loop's
    variable and what to read, the way the program would have to."""
    from codeact.agent.key_hints import missing_key_hint

    message = "\"'region' (this dict from a tool has the keys: 'product', 'qty', 'unit_price')\""
    nested = (
        "rows = []\n"
        "for user in list_users():\n"
        "    for line in get_orders_for_user(user_id=user['id']):\n"
        "        rate = get_tax_rate(region=line['region'])\n"
    )
    hint = missing_key_hint("KeyError", message, order_totals.TOOLS, code=nested, lineno=4)
    assert hint == (
        "[hint] 'region' is a key of User, which list_users() returns: here that is `user` "
        "(line 2: `for user in list_users():`), so read `user['region']`, then run the "
        "fixed program."
    )
    # Through a name: users = list_users(), then for u in users.
    through = "users = list_users()\nfor u in users:\n    print(u['id'])\n    x = o['region']\n"
    hint = missing_key_hint("KeyError", message, order_totals.TOOLS, code=through, lineno=4)
    assert hint is not None and "here that is `u` (line 2: `for u in users:`)" in hint
    # The failing line outside any such loop, or a program that does not parse: no variable.
    after = nested + "print(line['region'])\n"
    for code, line in ((after, 5), ("for (:", 1)):
        hint = missing_key_hint("KeyError", message, order_totals.TOOLS, code=code, lineno=line)
        assert hint is not None and "here that is" not in hint
        assert hint.endswith(
            "keep it in a variable where you have it), then run the fixed program."
        )


@pytest.mark.usefixtures("wasm_ready")
async def test_reading_a_key_from_the_wrong_tools_result_gets_the_hint() -> None:
    """The embedded model's demo programs read order['region'] (a field of the user), and it
    sent the same program again after the KeyError, which named only the order's keys."""
    program = (
        "for user in list_users():\n"
        "    for order in get_orders_for_user(user_id=user['id']):\n"
        "        print(get_tax_rate(region=order['region']))"
    )
    chat = ScriptedChat([code_call(program), code_call("print(8)"), "8"])
    await codeact_agent(chat).run("Taxes?")
    response = chat.requests[1].messages[-1].content or ""
    assert response.startswith("[error]") and "KeyError" in response
    assert response.splitlines()[-1] == (
        "[hint] 'region' is a key of User, which list_users() returns: here that is `user` "
        "(line 1: `for user in list_users():`), so read `user['region']`, then run the "
        "fixed program."
    )


@pytest.mark.usefixtures("wasm_ready")
async def test_a_loop_that_reads_an_earlier_loops_variable_gets_the_hint() -> None:
    """The embedded model's demo program at temperature 0 printed every total with the last
    user's name (the first loop's variable, read in the second loop)."""
    stale = (
        "totals = {}\nfor user in list_users():\n    totals[user['id']] = user['tier']\n"
        "for uid, tier in totals.items():\n    print(uid, user['name'], tier)"
    )
    fixed = "print(len([(u['id'], u['name'], u['tier']) for u in list_users()]))"
    chat = ScriptedChat([code_call(stale), code_call(fixed), "8"])
    result = await codeact_agent(chat).run("Users and tiers?")
    response = chat.requests[1].messages[-1].content or ""
    assert response.splitlines()[0].startswith("1 ")  # the program's output comes first
    assert response.splitlines()[-1].startswith(
        "[hint] line 5 (`print(uid, user['name'], tier)`) reads `user`, which the loop on "
        "line 2 (`for user in list_users():`) sets on each pass, after that loop ended"
    )
    assert "[hint]" not in (chat.requests[2].messages[-1].content or "")  # the fixed one
    assert result.nudge_reasons == []  # the model fixed it without being asked
    # Answering from the suspect output is asked once to fix the program first.
    answer = "1 Hana gold\n2 Hana silver"
    chat = ScriptedChat([code_call(stale), answer, code_call(fixed), "8"])
    result = await codeact_agent(chat).run("Users and tiers?")
    assert last_user(chat, 2).startswith(
        "Before you answer: the output of your last program may be wrong. Line 5 (`print("
    )
    assert result.nudge_reasons == ["stale_loop_variable"] and result.text == "8"
    # Asked once: the same answer again stands (counted, not hidden).
    chat = ScriptedChat([code_call(stale), answer, answer])
    result = await codeact_agent(chat).run("Users and tiers?")
    assert result.nudge_reasons == ["stale_loop_variable"] and result.text == answer


@pytest.mark.usefixtures("wasm_ready")
async def test_the_loop_hint_survives_a_repeat_and_names_the_models_own_lines() -> None:
    """Seen on the embedded model: its program defined mock tools (cut before it ran, which
    moved the lines), got the hint, sent the same program again, and was told to answer with
    what it printed; it did, with the last user's name on every line."""
    program = (
        "def list_users():\n    return []\n\n"  # a mock, cut out before the program runs
        "totals = {}\nfor user in list_users():\n    totals[user['id']] = user['tier']\n"
        "for uid, tier in totals.items():\n    print(uid, user['name'], tier)"
    )
    fixed = "print(len(list_users()))"
    chat = ScriptedChat([code_call(program), code_call(program), code_call(fixed), "8"])
    result = await codeact_agent(chat).run("Users and tiers?")
    hinted = chat.requests[1].messages[-1].content or ""
    assert "[hint] line 8 (`print(uid, user['name'], tier)`)" in hinted  # as the model wrote it
    assert "the loop on line 5 (`for user in list_users():`) sets on each pass" in hinted
    repeat = chat.requests[2].messages[-1].content or ""
    assert repeat.startswith("This exact program already ran, and its output above may be wrong")
    assert "reply to the user" not in repeat and "Line 8 (`print(" in repeat
    assert result.text == "8" and result.usage.code_executions == 2


@pytest.mark.usefixtures("wasm_ready")
async def test_a_program_whose_last_line_stops_inside_a_string_is_closed_and_run() -> None:
    """3 of 20 demo runs of one commit: the first program's last line was
    ``print(f"Total: {...:.2f}`` without its ``")``; the SyntaxError ended two of those runs."""
    cut = 'users = list_users()\nprint(f"users: {len(users)}'
    chat = ScriptedChat([code_call(cut), "users: 8"])
    result = await codeact_agent(chat).run("How many users?")
    response = chat.requests[1].messages[-1].content or ""
    assert response.startswith("users: 8")
    assert response.splitlines()[-1].startswith(
        "[note] the program's last line (line 2) ended inside a string; it was closed with `\")`"
    )
    assert result.programs == ['users = list_users()\nprint(f"users: {len(users)}")\n']
    assert result.nudge_reasons == ["cut_string_closed"] and result.text == "users: 8"
