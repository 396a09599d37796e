"""Plan approval grants the call sites a person read, not a count per tool.

With ``approval_scope="plan"`` the person approves the calls a static scan lists, and those run
without asking again. The grant was a count per tool, so any call of the tool the scan did not
see could use it up: a program built a class whose dataclass-generated ``__eq__`` sent mail
to boss@example.com on the grant of the visible ``send_email(to="ann@example.com")``; in the
jail a program wrote a call frame to the host's channel itself. The scan closes the paths it
knows; this closes the class: a site whose arguments are literals pre-approves only a call
with exactly those arguments, whatever path a hidden call takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from codeact import Approval, ApprovalRequest, CodeAct, MockBackend, tool
from codeact.calls.program_context import ProgramContext
from codeact.calls.scan import scan_tool_calls
from codeact.calls.site_grants import Site

SENT: list[str] = []


@tool(approval_mode="always_require")
def send_email(to: str, subject: str = "") -> str:
    """Send an email."""
    SENT.append(to)
    return "sent " + to


def approve_the_block_only(asked: list[ApprovalRequest]) -> Callable[..., Any]:
    async def handler(request: ApprovalRequest) -> Approval:
        asked.append(request)
        if request.kind == "block":
            return Approval.approve("the plan looks fine")
        return Approval.deny("not in the plan")

    return handler


VISIBLE = "send_email(to='ann@example.com')"


async def test_a_call_the_scan_did_not_see_cannot_use_a_shown_calls_grant() -> None:
    # The backend makes a call the program's text does not show (as a path the scan misses
    # would), then the shown one.
    def program(code: str, call_tool: Callable[..., Any]) -> Any:
        outcomes = []
        for to in ("boss@example.com", "ann@example.com"):
            try:
                outcomes.append(call_tool("send_email", to=to))
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        return outcomes

    asked: list[ApprovalRequest] = []
    codeact = CodeAct(
        backend=MockBackend(program),
        tools=[send_email],
        approval_handler=approve_the_block_only(asked),
        approval_scope="plan",
    )
    before = len(SENT)
    result = await codeact.execute(VISIBLE)
    assert SENT[before:] == ["ann@example.com"]  # was: boss, on ann's grant
    decisions = [(r.arguments["to"], r.decision) for r in result.tool_calls]
    assert decisions == [("boss@example.com", "denied"), ("ann@example.com", "preapproved")]
    assert [(a.kind, a.tool) for a in asked] == [("block", None), ("call", "send_email")]


@pytest.mark.parametrize(
    ("code", "arguments"),
    [
        ("send_email('a@x.y')", {"to": "a@x.y"}),
        ("send_email(to='a@x.y', subject=('x', 1)[0])", None),  # computed
        ("call_tool('send_email', to='a@x.y', subject='hi')", {"to": "a@x.y", "subject": "hi"}),
        ("send_email(*['a@x.y'])", None),
        ("send_email(**{'to': 'a@x.y'})", None),
        ("send_email('a@x.y', to='b@x.y')", None),
        ("send_email(to=user)", None),
    ],
)
def test_a_sites_arguments_are_read_only_when_all_are_literals(
    code: str, arguments: dict[str, Any] | None
) -> None:
    plan = scan_tool_calls(
        code, ["send_email"], gated=["send_email"], positional={"send_email": ["to", "subject"]}
    )
    assert plan.calls[0].arguments == (arguments,)


def test_a_computed_site_grants_one_call_with_any_arguments() -> None:
    program = ProgramContext("")
    program.grant_sites({"send_email": [Site({"to": "a@x.y"}), Site(None)]})
    assert not program.take_grant("other", {"to": "a@x.y"})
    assert program.take_grant("send_email", {"to": "z@x.y"})  # the computed site's
    assert not program.take_grant("send_email", {"to": "z@x.y"})
    assert program.take_grant("send_email", {"to": "a@x.y"})
    assert not program.take_grant("send_email", {"to": "a@x.y"})


def test_a_site_in_a_loop_grants_every_call_it_shows_and_no_other() -> None:
    program = ProgramContext("")
    program.grant_sites({"send_email": [Site({"to": "a@x.y"}, repeated=True)]})
    assert all(program.take_grant("send_email", {"to": "a@x.y"}) for _ in range(5))
    assert not program.take_grant("send_email", {"to": "evil@x.y"})


FORGED_FRAME = (
    """
import json, os, struct
frame = json.dumps(["c", "send_email", json.dumps({"to": "evil@x.y"})]).encode()
os.write(3, struct.pack(">I", len(frame)) + frame)
size = struct.unpack(">I", os.read(3, 4))[0]
print("forged call answered:", os.read(3, size)[:80])
"""
    + VISIBLE
)


async def test_a_call_frame_written_by_the_program_itself_gets_no_grant(
    make_codeact: Callable[..., Any], backend_name: str
) -> None:
    if backend_name != "jail":
        pytest.skip("only the jail's program shares a process with the runner's channel fd")
    asked: list[ApprovalRequest] = []
    codeact = make_codeact(
        tools=[send_email], approval_handler=approve_the_block_only(asked), approval_scope="plan"
    )
    before = len(SENT)
    result = await codeact.execute(FORGED_FRAME)
    assert "evil@x.y" not in SENT[before:], result.tool_calls
    assert SENT[before:] == ["ann@example.com"], (result.stdout, result.error)
    assert [r.decision for r in result.tool_calls] == ["denied", "preapproved"]


def test_a_literal_site_matches_json_values_not_pythons_equality() -> None:
    # True == 1 == 1.0 in Python: a site showing value=1 granted a call with value=True.
    program = ProgramContext("")
    program.grant_sites({"set": [Site({"value": 1}), Site({"value": [1, 0]})]})
    assert not program.take_grant("set", {"value": True})
    assert not program.take_grant("set", {"value": [1.0, False]})
    assert program.take_grant("set", {"value": 1.0})  # a float parameter gets 1 as 1.0
    assert program.take_grant("set", {"value": [1, 0]})
