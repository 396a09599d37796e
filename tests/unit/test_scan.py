"""The static scan: which tools a program may call, how often, and what it cannot see."""

from __future__ import annotations

from codeact.calls.scan import scan_tool_calls

TOOLS = ["send_email", "lookup"]


def test_counts_direct_calls_and_literal_call_tool_names() -> None:
    code = """
send_email(to="a")
x = call_tool("send_email", to="b")
lookup("q")
await call_tool_async("lookup", name="r")
"""
    plan = scan_tool_calls(code, TOOLS, gated=["send_email"])
    assert plan.counts() == {"send_email": 2, "lookup": 2}
    assert plan.counts(gated_only=True) == {"send_email": 2}
    [email] = plan.gated
    assert email.lines == (2, 3) and not email.repeated
    assert plan.complete
    assert plan.describe(gated_only=True) == "send_email twice (lines 2, 3) [needs approval]"


def test_calls_in_loops_comprehensions_and_functions_are_marked_repeated() -> None:
    code = """
for u in users:
    send_email(to=u)
[lookup(n) for n in names]
def helper():
    return call_tool("send_email", to="x")
send_email(to="once")
"""
    plan = scan_tool_calls(code, TOOLS)
    by_tool = {c.tool: c for c in plan.calls}
    assert by_tool["send_email"].count == 3 and by_tool["send_email"].repeated
    assert by_tool["lookup"].repeated
    assert not plan.complete
    assert "maybe more often" in by_tool["send_email"].describe()


def test_tools_reached_in_ways_it_cannot_name_are_listed_as_dynamic() -> None:
    code = """
name = "send_email"
call_tool(name, to="a")
f = send_email
g = call_tool
eval("lookup('x')")
"""
    plan = scan_tool_calls(code, TOOLS)
    assert plan.counts() == {}
    assert plan.dynamic == (3, 4, 5, 6)
    assert not plan.complete
    assert "cannot name (line 3, 4, 5, 6)" in plan.describe()


def test_unknown_names_and_shadowing_assignments_are_not_counted() -> None:
    plan = scan_tool_calls("call_tool('nope')\nother(1)\nlookup = 3", TOOLS)
    assert plan.counts() == {} and plan.dynamic == ()


def test_code_that_does_not_parse_says_so() -> None:
    plan = scan_tool_calls("send_email(\n", TOOLS)
    assert plan.calls == () and plan.syntax_error is not None
    assert "does not parse" in plan.describe()
