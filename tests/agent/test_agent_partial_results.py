"""What a run that did not finish leaves behind: the partial `AgentResult` of a run whose model
failed mid-run (`ChatError.result`), and the benchmark records made from it."""

from __future__ import annotations

import pytest

from codeact import Agent, ChatError, TurnLimitExceeded, tool
from codeact.bench.m3tooleval import load_tasks, run_task
from codeact.bench.order_totals import RunRecord, run_once
from codeact.bench.report import markdown_table, summarize
from codeact.testing import ScriptedChat, call, reply


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_a_chat_error_mid_run_carries_the_run_so_far() -> None:
    """Turn 1 costs 1,200 tokens and a tool runs; the second request fails (the script has no
    reply left: a ChatError, as a server's HTTP 500 is). Before, the error carried nothing."""
    chat = ScriptedChat([reply(None, call("add", a=1, b=2), input_tokens=1000, output_tokens=200)])
    with pytest.raises(ChatError, match="no reply left") as caught:
        await Agent(client=chat, tools=[add]).run("1 + 2?")
    partial = caught.value.result
    assert partial is not None, "ChatError.result: the partial run"
    assert (partial.usage.input_tokens, partial.usage.total_tokens) == (1000, 1200)
    assert partial.usage.model_turns == 1 and partial.usage.direct_tool_calls == 1
    assert partial.tool_calls[0].name == "add" and partial.timings.total > 0
    assert [m.role for m in partial.messages] == ["user", "assistant", "tool"]


async def test_a_bench_run_cut_by_its_model_records_its_costs_out_of_the_medians() -> None:
    """The order-totals record of a run whose model failed after one turn holds that turn's
    tokens and calls (before: zeros) and is interrupted: the medians are of the runs that
    ended on their own, which the zeros used to drag down."""
    cut = ScriptedChat([reply(None, call("list_users"), input_tokens=1000, output_tokens=200)])
    record = await run_once("direct", cut)
    assert record.error is not None and "no reply left" in record.error
    assert (record.input_tokens, record.total_tokens, record.model_turns) == (1000, 1200, 1)
    assert record.tool_calls == 1 and record.interrupted and not record.correct
    assert record.to_dict()["interrupted"] is True
    ended = RunRecord("direct", False, 10.0, 5000, 500, 5500, 9, 30, error="turn limit")
    summary = summarize([record, ended])["direct"]
    assert (summary["runs"], summary["failed"], summary["interrupted"]) == (2, 2, 1)
    assert summary["total_tokens"] == 5500 and summary["model_turns"] == 9
    table = markdown_table("m", [record, ended])
    assert "| of those interrupted (not in the medians) | 1 |" in table
    assert "(interrupted)" in table


async def test_an_m3tooleval_run_cut_by_its_model_records_its_costs() -> None:
    task = next(t for t in load_tasks() if t.name == "trade_calculator/estimate_final_value")
    first = call("calculate_tariff", price=150, tariff_rate=7.5)
    cut = ScriptedChat([reply(None, first, input_tokens=700, output_tokens=30)])
    run = await run_task(task, "direct", cut)
    assert run.failure == "model_error" and run.error is not None
    assert (run.input_tokens, run.output_tokens, run.model_turns, run.tool_calls) == (700, 30, 1, 1)


async def test_a_rejected_reply_is_not_the_partial_runs_answer() -> None:
    """ "The answer is 42." came before any tool ran (tools_required): the agent nudged it
    (`no_tool_call`), so when the turns then run out it is not `result.text` (before, it was,
    and a grader scoring partial results scored a guess the agent had refused)."""
    chat = ScriptedChat(["The answer is 42.", *(call("add", a=i, b=2) for i in range(3))])
    agent = Agent(client=chat, tools=[add], tools_required=True, max_turns=4)
    with pytest.raises(TurnLimitExceeded) as caught:
        await agent.run("what is it?")
    partial = caught.value.result
    assert partial.nudge_reasons == ["no_tool_call"]
    assert partial.text == ""
    assert partial.messages[1].content == "The answer is 42."  # still in the conversation


async def test_a_rejected_reply_is_not_the_answer_of_a_run_cut_by_its_model() -> None:
    chat = ScriptedChat(["The answer is 42."])  # then no reply left: a ChatError
    with pytest.raises(ChatError) as caught:
        await Agent(client=chat, tools=[add], tools_required=True).run("what is it?")
    assert caught.value.result.nudge_reasons == ["no_tool_call"]
    assert caught.value.result.text == ""
