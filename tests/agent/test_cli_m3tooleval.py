"""`codeact bench m3tooleval` as a user runs it: a real process, the real sandbox, and a real
chat-completions server on 127.0.0.1 playing a model that solves one task in both wirings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import FakeOpenAI, Reply, completion
from .test_cli_demo_bench import codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")

PROGRAM = (
    "tariff = calculate_tariff(price=150, tariff_rate=7.5)\n"
    "print(estimate_final_value(price=150, tariff=tariff))"
)


def solver(body: dict[str, Any]) -> Reply:
    """trade_calculator/estimate_final_value, through whichever wiring the request offers."""
    names = [t["function"]["name"] for t in body.get("tools", [])]
    last = body["messages"][-1]
    if "execute_code" in names:
        if last["role"] == "user":
            return completion(None, [("execute_code", {"code": PROGRAM})])
        return completion(f"Answer: {last['content'].strip()}")
    done = [m for m in body["messages"] if m["role"] == "tool"]
    if not done:
        return completion(None, [("calculate_tariff", {"price": 150, "tariff_rate": 7.5})])
    if len(done) == 1:
        tariff = float(done[0]["content"])
        return completion(None, [("estimate_final_value", {"price": 150, "tariff": tariff})])
    return completion(f"Answer: {done[-1]['content']}")


def test_m3tooleval_runs_both_wirings_and_writes_table_json_chart(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.policy = solver
    json_path, chart_path = tmp_path / "m3.json", tmp_path / "m3.png"
    proc = codeact_cli(
        "bench",
        "m3tooleval",
        "--base-url",
        fake_openai.url,
        "--domain",
        "trade_calculator",
        "--tasks",
        "1",
        "--json",
        str(json_path),
        "--chart",
        str(chart_path),
    )
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "| metric | CodeAct | direct | CodeAct/direct |" in out
    assert "| success | 1/1 (100.0 %) | 1/1 (100.0 %) | 1.00x |" in out
    assert "| mean model turns | 2.00 | 3.00 | 0.67x |" in out
    assert "| trade_calculator | 1/1 | 2.00 | 1/1 | 3.00 |" in out
    assert "run 2/2: trade_calculator/estimate_final_value [direct] correct" in proc.stderr
    data = json.loads(json_path.read_text())
    assert data["model"] == "fake-model" and data["benchmark"] == "m3tooleval"
    assert [(r["wiring"], r["correct"]) for r in data["runs"]] == [
        ("codeact", True),
        ("direct", True),
    ]
    assert {
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
    } <= set(data["runs"][0])
    assert set(data["summary"]) == {"codeact", "direct"}
    assert chart_path.read_bytes().startswith(b"\x89PNG")


def test_m3tooleval_refuses_an_unknown_domain_in_one_line(tmp_path: Path) -> None:
    proc = codeact_cli("bench", "m3tooleval", "--domain", "nope", "--json", str(tmp_path / "x"))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("codeact: error: unknown M3ToolEval domain 'nope'")
    )


def test_resume_keeps_the_earlier_runs_and_runs_only_the_missing_ones(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.policy = solver
    json_path = tmp_path / "m3.json"
    common = ["--base-url", fake_openai.url, "--domain", "trade_calculator", "--tasks", "1"]
    common += ["--json", str(json_path), "--chart", str(tmp_path / "m3.png")]
    first = codeact_cli("bench", "m3tooleval", "--wiring", "codeact", *common)
    assert first.returncode == 0, first.stderr
    requests_before = len(fake_openai.requests)

    proc = codeact_cli("bench", "m3tooleval", "--wiring", "both", "--resume", *common)
    assert proc.returncode == 0, proc.stderr
    assert "1 run(s) kept from" in proc.stderr
    assert "run 1/1: trade_calculator/estimate_final_value [direct] correct" in proc.stderr
    assert "[codeact]:" not in proc.stderr  # the kept run is not run again
    assert all(
        "execute_code" not in str(b.get("tools")) for b in fake_openai.requests[requests_before:]
    )
    out = " ".join(proc.stdout.split())
    assert "| success | 1/1 (100.0 %) | 1/1 (100.0 %) | 1.00x |" in out
    data = json.loads(json_path.read_text())
    assert [(r["wiring"], r["correct"]) for r in data["runs"]] == [
        ("codeact", True),
        ("direct", True),
    ]
    assert data["runs"][0]["programs"] and data["runs"][0]["reply"]  # kept as they were

    other = codeact_cli("bench", "m3tooleval", "--resume", "--model", "other", *common)
    assert other.returncode != 0
    assert "cannot resume from" in other.stderr and "'fake-model'" in other.stderr
