"""The stale loop variable hint: which programs get it, and which do not."""

from __future__ import annotations

import pytest

from codeact.agent.loop_hints import stale_loop_variable_hint

#: The embedded model's demo program at temperature 0 (shortened): right totals, and the last
#: user's name on every line.
DEMO = """users = list_users()
totals = {}
for user in users:
    total = 0.0
    for order in get_orders_for_user(user_id=user['id']):
        total += order['qty'] * order['unit_price']
    totals[user['id']] = total
ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
for user_id, total in ranked:
    print(f"{user_id}: {user['name']}: {total:.2f}")
"""


def test_a_loop_that_reads_a_finished_loops_variable_gets_the_hint() -> None:
    hint = stale_loop_variable_hint(DEMO)
    assert hint is not None
    assert hint.startswith(
        "[hint] line 10 (`print(f\"{user_id}: {user['name']}: {total:.2f}\")`) reads `user`, "
        "which the loop on line 3 (`for user in users:`) sets on each pass, after that loop ended"
    )


@pytest.mark.parametrize(
    "code",
    [
        "for u in us:\n    t[u] = 1\nwhile t:\n    print(u)\n    t.popitem()\n",
        "def f(us, t):\n    for u in us:\n        t[u] = 1\n    for k in t:\n        print(k, u)\n",
        "async def f(us):\n    async for u in us:\n        pass\n    while t:\n        print(u)\n",
        "for i, (a, b) in enumerate(pairs):\n    pass\nfor x in xs:\n    print(b)\n",
    ],
    ids=["while", "in_a_function", "async_for", "nested_target"],
)
def test_the_same_slip_in_other_shapes_gets_the_hint(code: str) -> None:
    assert stale_loop_variable_hint(code) is not None


@pytest.mark.parametrize(
    "code",
    [
        "for u in us:\n    t[u] = 1\nfor k, v in t.items():\n    print(k, v)\n",
        "for u in us:\n    t[u] = 1\nu = us[0]\nfor k in t:\n    print(u)\n",
        "for u in us:\n    t[u] = 1\nfor k in t:\n    print([u for u in us])\n",
        "for u in us:\n    t[u] = 1\nfor k in t:\n    f = lambda: u\n",
        "for u in us:\n    t[u] = 1\nfor u in t:\n    print(u)\n",
        "for u in us:\n    t[u] = 1\nfor k in t:\n    u = t[k]\n    print(u)\n",
        "for u in us:\n    t[u] = 1\nprint(u)\n",
        "for u in us:\n    for k in t:\n        print(u, k)\n",
        "for u in (\n",
    ],
    ids=[
        "own_variables",
        "rebound_between",
        "comprehension",
        "lambda",
        "same_name_again",
        "rebound_inside",
        "after_the_loop_not_in_one",
        "nested",
        "syntax_error",
    ],
)
def test_programs_without_the_slip_get_no_hint(code: str) -> None:
    assert stale_loop_variable_hint(code) is None


def test_a_name_each_pass_assigns_is_the_loops_too() -> None:
    """Seen on the embedded model: ``user_name = user["name"]`` in the first loop, printed in
    the second (the demo's answer had Hana's name on every line)."""
    code = (
        "totals = {}\nfor user in users:\n    user_name = user['name']\n"
        "    totals[user['id']] = 1\nfor uid, total in totals.items():\n"
        "    print(uid, user_name, total)\n"
    )
    hint = stale_loop_variable_hint(code)
    assert hint is not None and "reads `user_name`, which the loop on line 2" in hint


@pytest.mark.parametrize(
    "code",
    [
        "total = 0\nfor x in xs:\n    total = total + x\nfor y in ys:\n    print(y / total)\n",
        "for x in xs:\n    if x > 3:\n        found = x\nfor y in ys:\n    print(y, found)\n",
    ],
    ids=["accumulator", "search_result"],
)
def test_names_meant_to_outlive_the_loop_get_no_hint(code: str) -> None:
    assert stale_loop_variable_hint(code) is None
