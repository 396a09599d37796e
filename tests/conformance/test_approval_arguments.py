"""Approval handlers, middlewares and the audit see a call's arguments as the tool gets them.

Validation converts what a program sends (``"false"`` becomes ``False`` for a `bool`):
a handler that read the text as sent approved "dry runs" that ran for real.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from codeact import Approval, ApprovalRequest, CodeAct, Limits, tool
from codeact.calls.received import as_received

ran: list[tuple[str, bool]] = []


@tool(approval_mode="always_require")
def delete_records(table: str, dry_run: bool = True) -> str:
    """Delete every record of a table (dry_run=True only counts them)."""
    ran.append((table, dry_run))
    return f"{'would delete' if dry_run else 'DELETED'} {table}"


async def dry_runs_only(request: ApprovalRequest) -> Approval | bool:
    if (request.arguments or {}).get("dry_run", True):
        return True
    return Approval.deny("real deletions need a person")


PROGRAM = """
for v in (True, "false", "no", "0", "off", 0):
    try:
        print(delete_records(table="users", dry_run=v))
    except ToolDenied:
        print("denied")
"""


async def test_a_handler_decides_on_the_converted_arguments(
    make_codeact: Callable[..., CodeAct],
) -> None:
    ran.clear()
    codeact = make_codeact(tools=[delete_records], approval_handler=dry_runs_only)
    result = await codeact.execute(PROGRAM)
    assert result.ok, result.error
    assert result.stdout.split("\n")[:-1] == ["would delete users"] + ["denied"] * 5
    assert ran == [("users", True)]
    assert [c.arguments for c in result.tool_calls][1:] == [
        {"table": "users", "dry_run": False}
    ] * 5
    direct = await codeact.call_direct("delete_records", '{"table": "t", "dry_run": "off"}')
    assert not direct.ok and direct.error_kind == "denied"
    assert direct.record.arguments == {"table": "t", "dry_run": False}


def test_as_received_keeps_what_was_sent_when_nothing_was_converted() -> None:
    sent: dict[str, Any] = {"a": "x", "b": 2, "c": [1]}
    assert as_received(sent, {"a": "x", "b": 2, "c": [1], "d": None}) is sent
    when = datetime(2026, 1, 2, 3, 4, 5)
    converted = as_received({"at": "2026-01-02T03:04:05", "n": "3", "x": 1}, {"at": when, "n": 3})
    # "x" is not one of the tool's names (an alias, say): shown as sent, never hidden
    assert converted == {"at": "2026-01-02T03:04:05", "n": 3, "x": 1}


class Order(BaseModel):
    item: str
    ship_to: str = Field(default="home", exclude=True)  # left out of the model's JSON


seen: list[dict[str, Any]] = []


@tool(approval_mode="always_require")
def send(order: Order, to: str, sender: Annotated[str, Field(alias="from")] = "me@corp") -> str:
    """Send an order from someone to someone."""
    return f"{order.item} to {order.ship_to} for {to} from {sender}"


async def record_and_approve(request: ApprovalRequest) -> bool:
    seen.append(dict(request.arguments or {}))
    return True


async def test_a_handler_sees_every_argument_sent_aliases_and_excluded_fields_too(
    make_codeact: Callable[..., CodeAct],
) -> None:
    seen.clear()
    codeact = make_codeact(tools=[send], approval_handler=record_and_approve)
    code = (
        "call_tool('send', order={'item': 'laptop', 'ship_to': 'drop address'}, to='a@x', "
        "**{'from': 'ceo@corp'})"
    )
    result = await codeact.execute(code)
    assert result.ok and result.value == "laptop to drop address for a@x from ceo@corp"
    expected = {
        "order": {"item": "laptop", "ship_to": "drop address"},
        "to": "a@x",
        "from": "ceo@corp",
    }
    assert seen == [expected]
    assert result.tool_calls[0].arguments == expected


async def say_no(request: ApprovalRequest) -> bool:
    return False


async def test_gated_calls_a_limit_ended_before_a_decision_are_recorded_undecided(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(
        tools=[delete_records], approval_handler=say_no, limits=Limits(approval_denials=3)
    )
    code = (
        "import asyncio\n"
        "async def one(i):\n"
        "    try:\n"
        "        await call_tool_async('delete_records', table=f't{i}', dry_run=False)\n"
        "    except ToolDenied:\n"
        "        pass\n"
        "await asyncio.gather(*(one(i) for i in range(12)))\n"
    )
    result = await codeact.execute(code)
    assert result.error is not None and result.error.limit == "approvals"
    decisions = {c.decision for c in result.tool_calls}
    assert "not_required" not in decisions and "denied" in decisions
