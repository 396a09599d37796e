"""The M3ToolEval runner with scripted models: records, failure modes, summary, table, JSON
and chart, through codeact's real `Agent` and the real wasm sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeact.bench.m3tooleval import load_tasks, run_task, run_tasks
from codeact.bench.m3tooleval.report import (
    bench_json,
    domain_table,
    summary_table,
    write_chart,
    write_json,
)
from codeact.testing import ChatRequest, FunctionChat, Reply, ScriptedChat, call, code_call

pytestmark = pytest.mark.usefixtures("wasm_ready")

TASK = next(t for t in load_tasks() if t.name == "trade_calculator/estimate_final_value")
PROGRAM = (
    "tariff = calculate_tariff(price=150, tariff_rate=7.5)\n"
    "print(estimate_final_value(price=150, tariff=tariff))"
)
RUN_KEYS = {
    "task",
    "domain",
    "wiring",
    "correct",
    "model_turns",
    "tool_calls",
    "input_tokens",
    "output_tokens",
    "wall_s",
    "fallback_parses",
    "nudges",
    "failure",
}


def solver(request: ChatRequest) -> Reply:
    """A competent model for TASK in either wiring."""
    last = request.messages[-1]
    if "execute_code" in request.tool_names:
        if last.role == "user":
            return code_call(PROGRAM)
        assert last.content is not None  # the program's output
        return f"The final value is {last.content.strip()}.\nAnswer: {last.content.strip()}"
    if last.role == "user":
        return call("calculate_tariff", price=150, tariff_rate=7.5)
    if last.role == "tool" and len(request.messages) == 4:
        return call("estimate_final_value", price=150, tariff=float(last.content or "0"))
    return f"Answer: {last.content}"


async def test_both_wirings_solve_a_task_and_the_records_hold_every_key() -> None:
    assert TASK.expected == 161.25
    chat = FunctionChat(solver)
    lines: list[str] = []
    runs = await run_tasks([TASK], chat, backend="wasm", progress=lines.append)
    assert lines[0].startswith("turn 1: the model replied in")
    codeact, direct = runs
    assert (codeact.wiring, direct.wiring) == ("codeact", "direct")
    assert codeact.correct and direct.correct, (codeact, direct)
    assert codeact.failure is None and direct.failure is None
    assert (codeact.model_turns, direct.model_turns) == (2, 3)
    assert (codeact.tool_calls, direct.tool_calls) == (2, 2)
    assert codeact.answer == "161.25" and codeact.input_tokens > 0
    assert set(codeact.to_dict()) >= RUN_KEYS
    # The same instructions for both wirings, and the task's instruction as the prompt.
    first = [r for r in chat.requests if len(r.messages) == 2]
    assert len(first) == 2
    assert all(r.messages[1].content == TASK.instruction for r in first)
    assert all("Answer: <answer>" in (r.messages[0].content or "") for r in first)


async def test_failure_modes_are_recorded_not_dropped() -> None:
    # Answers from thin air: one nudge to use the tools, then the same guess stands.
    guess = await run_task(TASK, "codeact", ScriptedChat(["Answer: 160", "Answer: 160"]))
    assert (guess.correct, guess.failure, guess.nudges) == (False, "no_tool_call", 1)
    assert guess.nudge_reasons == ["no_tool_call"]
    # Every program fails.
    broken = await run_task(
        TASK,
        "codeact",
        ScriptedChat(
            [code_call("print(nope)"), code_call("print(nope2)"), "Answer: 1", "x", "Answer: 2"]
        ),
        backend="wasm",
    )
    # A reply while the last program failed is asked again twice; then it stands.
    assert broken.failure == "program_errors" and broken.nudges == 2
    assert broken.nudge_reasons == ["failed_program", "failed_program"]
    # Right tools, wrong answer.
    # (161.2 is not what the program printed: one nudge, and the reply after it stands.)
    wrong = await run_task(
        TASK,
        "codeact",
        ScriptedChat([code_call(PROGRAM), "Answer: 161.2", "Answer: 161.2"]),
        backend="wasm",
    )
    assert wrong.failure == "wrong_answer" and wrong.answer == "161.2"
    assert wrong.nudge_reasons == ["dropped_output"]
    # Never stops calling tools.
    looping = await run_task(
        TASK,
        "direct",
        FunctionChat(lambda r: call("calculate_tariff", price=1, tariff_rate=1)),
        max_turns=3,
    )
    assert looping.failure == "turn_limit" and looping.model_turns == 3 and looping.error


async def test_summary_table_json_and_chart(tmp_path: Path) -> None:
    runs = await run_tasks([TASK], FunctionChat(solver), backend="wasm", runs=2)
    runs.append(await run_task(TASK, "direct", ScriptedChat(["Answer: 1", "Answer: 1"])))
    table = _squeeze(summary_table(runs))
    assert "| metric | CodeAct | direct | CodeAct/direct |" in table
    assert "| success | 2/2 (100.0 %) | 2/3 (66.7 %) | 1.50x |" in table
    assert "| mean model turns | 2.00 | 2.67 | 0.75x |" in table
    assert "| failed: no_tool_call | 0 | 1 | |" in table
    assert "| trade_calculator | 2/2 | 2.00 | 2/3 | 2.67 |" in _squeeze(domain_table(runs))
    data = bench_json("scripted", runs)
    assert data["model"] == "scripted" and len(data["runs"]) == 5
    assert data["summary"]["direct"]["failures"] == {"no_tool_call": 1}
    assert data["summary"]["direct"]["nudge_kinds"] == {"no_tool_call": 1}
    write_json(tmp_path / "m3.json", "scripted", runs)
    assert json.loads((tmp_path / "m3.json").read_text())["runs"][0]["task"] == TASK.name
    pytest.importorskip("matplotlib", reason="the chart needs the bench extra")
    write_chart(tmp_path / "m3.png", "scripted", runs)
    assert (tmp_path / "m3.png").read_bytes().startswith(b"\x89PNG")


async def test_web_browsing_tools_keep_the_browser_between_programs() -> None:
    task = next(t for t in load_tasks() if t.domain == "web_browsing")
    chat = ScriptedChat(
        [
            code_call("print(click_url(url='/products'))"),
            code_call("print(view())"),
            "Answer: 0",  # drops what the program printed: one nudge
            "Answer: 0",
        ]
    )
    run = await run_task(task, "codeact", chat, backend="wasm")
    assert run.result is not None
    assert "[Web Page Name: /products]" in run.result.executions[1].stdout


def _squeeze(table: str) -> str:
    return "\n".join(" ".join(line.split()) for line in table.splitlines())
