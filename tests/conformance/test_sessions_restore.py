"""Sessions: what restore does with definitions and damaged states, on every backend.

Restore never fails a call: what it cannot bring back is dropped and named, and the program
runs with the rest (docs/sessions.md).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from codeact import CodeAct, Limits, tool

EXITS_WHEN_RUN_AGAIN = """
import math
math.flag = True
def boom(f):
    if not getattr(math, "flag", False):
        raise SystemExit(3)
    return f
@boom
def g():
    return 1
x = 42
"""


async def test_a_definition_that_exits_when_run_again_is_dropped_not_the_session(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    first = await session.execute(EXITS_WHEN_RUN_AGAIN)
    assert first.ok and first.session is not None and "g" in first.session.names
    second = await session.execute("x")
    # was: SystemExit from restore failed this call and every later one, even `1+1`
    assert second.ok and second.value == 42, second.to_model_text()
    assert second.session is not None and "SystemExit" in second.session.dropped["g"]
    assert (await session.execute("1 + 1")).value == 2


# Makes the state this call leaves one whose header lacks what restore reads.
DAMAGES_ITS_STATE = r"""
import codeact_save, codeact_state, json
hdr = json.dumps({"format": codeact_state.FORMAT, "python": codeact_state.PYTHON,
                  "groups": []}).encode()
bad = codeact_state.MAGIC + codeact_state.LENGTH.pack(len(hdr)) + hdr
orig = codeact_save.finish
def finish(*a, **k):
    r = orig(*a, **k)
    r["state"] = bad
    r.pop("splice", None)
    return r
codeact_save.finish = finish
"""


async def test_a_state_restore_cannot_read_is_dropped_and_the_session_goes_on(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    await session.execute("x = 1")
    planted = await session.execute(DAMAGES_ITS_STATE)
    assert planted.ok and planted.session is not None and planted.session.kept
    after = await session.execute("1 + 1")
    # was: KeyError 'modules' in restore failed every later call
    assert after.ok and after.value == 2, after.to_model_text()
    assert after.session is not None and "could not be restored" in after.session.dropped["*"]
    again = await session.execute("y = 2")
    assert again.ok and again.session is not None and again.session.names == ("y",)


async def test_a_class_defined_again_inside_a_block_is_dropped_like_a_function(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    code = (
        "class A:\n    x = 1\n"
        "def f():\n    return 1\n"
        "if True:\n"
        "    class A:\n        x = 2\n"
        "    def f():\n        return 2\n"
        "class B:\n    x = 1\n"
        "class B:\n    x = 3\n"
    )
    result = await session.execute(code)
    assert result.ok and result.session is not None
    # was: A came back as its first version (x == 1), silently; f was dropped with a reason
    assert "top level" in result.session.dropped["A"]
    assert "top level" in result.session.dropped["f"]
    after = await session.execute("['A' in globals(), B.x]")
    assert after.ok and after.value == [False, 3], after.to_model_text()


async def test_attributes_set_after_a_definition_are_kept(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    code = (
        "import enum\n"
        "class Counter:\n    count = 0\n    seen = []\n"
        "    def bump(self):\n        return 1\n"
        "Counter.count += 1\nCounter.seen.append('a')\nCounter.added = {'k': 1}\n"
        "def f():\n    return f.calls\n"
        "f.calls = 3\n"
        "class Color(enum.Enum):\n    RED = 1\n"
    )
    result = await session.execute(code)
    assert result.ok and result.session is not None and result.session.kept
    assert result.session.dropped == {}
    after = await session.execute(
        "[Counter.count, Counter.seen, Counter.added, f(), Counter().bump(), Color.RED.value]"
    )
    # was: the attributes came back as the definitions make them (0, [], missing, missing)
    assert after.ok, after.to_model_text()
    assert after.value == [1, ["a"], {"k": 1}, 3, 1, 1]
    assert after.session is not None and after.session.dropped == {}


@tool
def send_money(to: str, amount: float) -> str:
    """Send money."""
    SENT.append((to, amount))
    return f"sent {amount} to {to}"


SENT: list[tuple[str, float]] = []

# Each of these calls a tool while it is defined: restore would call it again.
CALLS_A_TOOL_WHEN_DEFINED = {
    "Receipt": "class Receipt:\n    text = send_money(to='bob', amount=10)\n",
    "paid": "def once(f):\n    send_money(to='eve', amount=1)\n    return f\n"
    "@once\ndef paid():\n    return 1\n",
    "pay": "def pay(note=send_money(to='ann', amount=2)):\n    return note\n",
    "Quiet": "class Quiet:\n    try:\n        send_money(to='joe', amount=3)\n"
    "    except BaseException:\n        pass\n",
}


@pytest.mark.parametrize("name", sorted(CALLS_A_TOOL_WHEN_DEFINED))
async def test_restore_never_calls_a_tool_again(
    make_codeact: Callable[..., CodeAct], name: str
) -> None:
    SENT.clear()
    session = make_codeact(tools=[send_money]).session()
    first = await session.execute(CALLS_A_TOOL_WHEN_DEFINED[name] + "kept = 1\n")
    assert first.ok and len(SENT) == 1, first.to_model_text()
    second = await session.execute("n = 0")
    # was: every later call paid again, recorded in that call's tool_calls
    assert len(SENT) == 1 and second.tool_calls == [], second.tool_calls
    assert second.ok and second.session is not None and second.session.kept
    why = second.session.dropped[name]
    assert "calls the tool send_money" in why and "restore never does that again" in why, why
    third = await session.execute("[kept, n]")
    assert third.value == [1, 0] and len(SENT) == 1
    assert third.session is not None and name not in third.session.names


async def test_restore_neither_prints_again_nor_writes_files(
    make_codeact: Callable[..., CodeAct],
) -> None:
    session = make_codeact().session()
    first = await session.execute(
        "class Loud:\n    print('defined')\n"
        "class Log:\n    with open('/output/log.txt', 'a') as f:\n        f.write('x')\n"
    )
    assert first.ok and first.stdout == "defined\n", first.to_model_text()
    second = await session.execute("print('second')")
    assert second.stdout == "second\n" and second.files == []
    assert second.session is not None and "Loud" in second.session.names
    assert "writes the file /output/log.txt" in second.session.dropped["Log"]


# Loops only when it is run again (the flag is gone in a fresh sandbox).
LOOPS_WHEN_RUN_AGAIN = """
import builtins
builtins.first = True
class Trap:
    if not getattr(__import__('builtins'), 'first', False):
        while True: pass
class Bomb:
    def __reduce__(self):
        return (exec, ("import builtins\\nwhile not getattr(builtins, 'first', False): pass",))
b = Bomb()
x = 1
"""


async def test_a_definition_or_value_that_hangs_when_restored_is_dropped(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # restore's budget is a share of the wall time (docs/sessions.md): 0.5 s here
    session = make_codeact(limits=Limits(wall_time=5)).session()
    first = await session.execute(LOOPS_WHEN_RUN_AGAIN)
    assert first.ok, first.to_model_text()
    second = await session.execute("x + 1")
    # was: every later call ended at the wall-time limit, the session broken for good
    assert second.ok and second.value == 2, second.to_model_text()
    assert second.session is not None and "restore's 0.5 s" in second.session.dropped["Trap"]
    third = await session.execute("b")
    assert third.session is not None and "restore's 0.5 s" in third.session.dropped["b"]
    assert (await session.execute("x")).value == 1
