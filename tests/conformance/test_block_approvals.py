"""Approvals of the whole code block: asked once before it runs (``approval_mode=
"always_require"``), for every block (``approval_scope="block"``), or for the calls a scan of
the code finds (``approval_scope="plan"``), and what such an approval grants.

Everything here runs real programs in the sandbox under test; approvals of single calls
inside a block are in test_approvals.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from codeact import CodeAct
from codeact.calls.approvals import Approval, ApprovalRequest

from .gated_tools import SENT, lookup, send_email, sent_after


async def test_always_require_asks_once_before_the_block_runs_showing_code_and_plan(
    make_codeact: Callable[..., CodeAct],
) -> None:
    seen: list[ApprovalRequest] = []

    async def handler(request: ApprovalRequest) -> bool:
        seen.append(request)
        return True

    code = "print(lookup('a'))\nsend_email(to='a@b.c')"
    codeact = make_codeact(
        tools=[send_email, lookup], approval_handler=handler, approval_mode="always_require"
    )
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert [r.kind for r in seen] == ["block", "call"]  # scope "call": the gated call still asks
    block = seen[0]
    assert block.code == code and block.plan is not None
    assert block.plan.counts() == {"lookup": 1, "send_email": 1}
    assert [c.tool for c in block.plan.gated] == ["send_email"]
    assert "run this program?" in block.describe() and "send_email once" in block.describe()
    assert result.approval is not None
    assert (result.approval.origin, result.approval.decision) == ("block", "approved")


async def test_a_denied_block_does_not_run_at_all(make_codeact: Callable[..., CodeAct]) -> None:
    async def handler(request: ApprovalRequest) -> Approval:
        return Approval.deny("not today")

    before = len(SENT)
    codeact = make_codeact(
        tools=[send_email, lookup], approval_handler=handler, approval_mode="always_require"
    )
    result = await codeact.execute("print('ran')\nsend_email(to='a@b.c')")
    assert not result.ok and result.error is not None
    assert result.error.type == "ToolDenied" and "not today" in result.error.message
    assert result.stdout == "" and result.tool_calls == []
    assert sent_after(before) == []
    assert result.to_model_text().startswith("[denied] the program was not run")


async def test_block_scope_gates_every_block_and_covers_every_call_in_it(
    make_codeact: Callable[..., CodeAct],
) -> None:
    kinds: list[str] = []

    async def handler(request: ApprovalRequest) -> bool:
        kinds.append(request.kind)
        return True

    codeact = make_codeact(
        tools=[send_email, lookup], approval_handler=handler, approval_scope="block"
    )
    # The reference's rule: a gated tool is registered, so even this block is asked about.
    assert (await codeact.execute("lookup('x')")).value == "X"
    assert kinds == ["block"]
    code = "for to in ['a@x.y', 'b@x.y', 'c@x.y']:\n    call_tool('send_email', to=to)\n'ok'"
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert kinds == ["block", "block"]  # no per-call questions
    assert [c.decision for c in result.tool_calls] == ["preapproved"] * 3
    assert {c.handler for c in result.tool_calls} == {"grant"}


async def test_plan_scope_approves_the_scanned_calls_up_front_and_asks_beyond_them(
    make_codeact: Callable[..., CodeAct],
) -> None:
    seen: list[ApprovalRequest] = []

    async def handler(request: ApprovalRequest) -> bool:
        seen.append(request)
        return True

    codeact = make_codeact(
        tools=[send_email, lookup], approval_handler=handler, approval_scope="plan"
    )
    code = """
send_email(to="a@x.y")
call_tool("send_email", to="b@x.y")
for to in ["c@x.y", "d@x.y"]:
    send_email(to=to)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert seen[0].kind == "block"
    assert seen[0].plan is not None and seen[0].plan.counts(gated_only=True) == {"send_email": 3}
    # three call sites counted -> three calls pre-approved; the loop's second turn is asked
    assert [c.decision for c in result.tool_calls] == [
        "preapproved",
        "preapproved",
        "preapproved",
        "approved",
    ]
    assert [r.kind for r in seen] == ["block", "call"]
    assert seen[1].arguments == {"to": "d@x.y", "body": ""} or seen[1].arguments == {"to": "d@x.y"}


async def test_plan_scope_without_gated_calls_in_the_code_asks_nothing(
    make_codeact: Callable[..., CodeAct],
) -> None:
    async def handler(request: ApprovalRequest) -> bool:
        raise AssertionError("nothing should be asked")

    codeact = make_codeact(
        tools=[send_email, lookup], approval_handler=handler, approval_scope="plan"
    )
    result = await codeact.execute("lookup('q')")
    assert result.ok and result.value == "Q" and result.approval is None


async def test_a_block_approval_can_grant_a_number_of_calls(
    make_codeact: Callable[..., CodeAct],
) -> None:
    kinds: list[str] = []

    async def handler(request: ApprovalRequest) -> Approval:
        kinds.append(request.kind)
        if request.kind == "block":
            return Approval.approve("looks fine", grants={"send_email": 1})
        return Approval.deny("only one was approved")

    codeact = make_codeact(
        tools=[send_email], approval_handler=handler, approval_mode="always_require"
    )
    code = (
        "out = [send_email(to='a@x.y')]\ntry:\n    send_email(to='b@x.y')\n"
        "except ToolDenied:\n    out.append('second denied')\nout"
    )
    result = await codeact.execute(code)
    assert result.value == ["sent to a@x.y", "second denied"]
    assert kinds == ["block", "call"]
    assert [c.decision for c in result.tool_calls] == ["preapproved", "denied"]


# A gated call built from strings by a plain module: dataclasses pastes field names into the
# source it execs in __main__; functools.wraps copies a module's namespace (os's holds sys).
HIDDEN = {
    "dataclasses": (
        "import dataclasses\nG = [1]\n"
        "N = \"a or (G and G.pop() and send_email(to='evil@x.y'))\"\n"
        "X = dataclasses.dataclass(init=False, repr=False)("
        "type('X', (), {'__annotations__': {N: int}, '__doc__': 'x', 'a': 0}))\n"
        "X() == X()"
    ),
    "wraps": (
        "import functools, os\ndef grab(obj):\n    d = {}\n    class W:\n"
        "        def __getattribute__(self, name):\n            return d\n"
        "    functools.wraps(obj)(W())\n    return d\n"
        "grab(grab(grab(os)['sys'])['modules']['__main__'])['send_email'](to='evil@x.y')"
    ),
}


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
async def test_plan_scope_grants_nothing_to_a_call_built_from_strings(
    make_codeact: Callable[..., CodeAct], hidden: str
) -> None:
    kinds: list[str] = []

    async def handler(request: ApprovalRequest) -> bool:
        kinds.append(request.kind)
        # The reviewed block, and then only the call to the address it shows.
        return request.kind == "block" or request.arguments == {"to": "ok@x.y"}

    codeact = make_codeact(tools=[send_email], approval_handler=handler, approval_scope="plan")
    before = len(SENT)
    body = "\n".join("    " + line for line in hidden.splitlines())
    code = f"try:\n{body}\nexcept ToolDenied:\n    print('hidden denied')\nsend_email(to='ok@x.y')"
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert "hidden denied" in result.stdout
    assert sent_after(before) == ["ok@x.y"]  # the block's approval covered no call: asked
    assert [c.decision for c in result.tool_calls] == ["denied", "approved"], result.tool_calls
    assert kinds == ["block", "call", "call"]
