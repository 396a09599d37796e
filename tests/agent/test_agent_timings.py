"""`AgentResult.timings`: a person's approval wait is its own figure, not tool or sandbox
time, and the calls of one reply that run at once are not counted more than once."""

from __future__ import annotations

import asyncio

import pytest

from codeact import Agent, ApprovalRequest, CodeAct, tool
from codeact.agent.result import AgentTimings
from codeact.testing import ScriptedChat, call, code_call

WAIT = 0.4  # seconds a person takes to approve


@tool(approval_mode="always_require")
def gated() -> int:
    """A tool that takes no time, once approved."""
    return 1


@tool
async def slow() -> int:
    """Sleeps 0.3 s."""
    await asyncio.sleep(0.3)
    return 1


async def approve(request: ApprovalRequest) -> bool:
    await asyncio.sleep(WAIT)
    return True


def adds_up(t: AgentTimings) -> bool:
    return t.model + t.sandbox + t.tools + getattr(t, "approval", 0.0) <= t.total


async def test_a_direct_calls_approval_wait_is_not_tool_time() -> None:
    agent = Agent(
        client=ScriptedChat([call("gated"), "1"]), tools=[gated], approval_handler=approve
    )
    t = (await agent.run("go")).timings
    assert t.tools < WAIT / 2 and t.approval >= WAIT, t
    assert adds_up(t), t


@pytest.mark.usefixtures("wasm_ready")
async def test_a_nested_calls_approval_wait_is_neither_tool_nor_sandbox_time() -> None:
    codeact = CodeAct(tools=[gated], approval_handler=approve, backend="wasm")
    agent = Agent(client=ScriptedChat([code_call("print(gated())"), "1"]), codeact=codeact)
    result = await agent.run("go")
    assert result.executions[0].ok, result.executions[0].to_model_text()
    t = result.timings
    assert t.tools < WAIT / 2 and t.approval >= WAIT and t.sandbox < t.total - WAIT, t
    assert adds_up(t), t


async def test_direct_calls_run_at_once_count_their_wall_time_once() -> None:
    """Four 0.3 s calls in one reply run together in about 0.3 s: before, `tools` was their
    sum, 1.2 s, more than the whole run."""
    agent = Agent(client=ScriptedChat([[call("slow") for _ in range(4)], "4"]), tools=[slow])
    t = (await agent.run("go")).timings
    assert t.total < 1.0 and t.tools >= 0.25, t
    assert adds_up(t), t


@pytest.mark.usefixtures("wasm_ready")
async def test_programs_run_at_once_count_their_wall_time_once() -> None:
    programs = [code_call(f"print(slow())  # {i}") for i in range(4)]
    codeact = CodeAct(tools=[slow], backend="wasm")
    result = await Agent(client=ScriptedChat([programs, "1"]), codeact=codeact).run("go")
    assert [e.ok for e in result.executions] == [True] * 4
    t = result.timings
    assert t.tools > 0 and t.sandbox > 0, t
    assert adds_up(t), t


def test_a_turns_figures_are_scaled_to_its_wall_time_in_proportion() -> None:
    t = AgentTimings(sandbox=1.0, tools=1.0, approval=0.0)
    before = t.calls()
    t.sandbox, t.tools, t.approval = 4.0, 2.0, 1.0  # 3, 1 and 1 added: 5 s in 2 s
    t.fit_calls(before, 2.0)
    assert (t.sandbox, t.tools, t.approval) == pytest.approx((2.2, 1.4, 0.4))
    t.fit_calls(t.calls(), 0.0)  # nothing added: nothing changes
    assert t.sandbox == pytest.approx(2.2)
