"""`codeact demo` and `codeact bench order-totals` as a user runs them: real processes, a real
sandbox, and a real chat-completions server on 127.0.0.1 playing a competent model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..cli_run import run_codeact
from .conftest import FakeOpenAI, completion, error

pytestmark = pytest.mark.usefixtures("wasm_ready")

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "CODEACT_MODEL"))
}


def codeact_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_codeact(*args, env=CLEAN_ENV, cwd=cwd)


def test_demo_prints_totals_sum_verdict_and_costs(order_totals_model: FakeOpenAI) -> None:
    proc = codeact_cli("demo", "--base-url", order_totals_model.url, "--model", "fake-model")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "order totals: 8 users, 5 tools, codeact wiring, model fake-model" in out
    assert "program 1 written by the model (36 tool calls inside, ok):" in out
    assert re.search(r"^Diana +104\.40 +104\.40  ok$", out, re.M)
    assert re.search(r"^Bob +9\.71 +9\.71  ok$", out, re.M)
    assert re.search(r"^sum +334\.15 +334\.15$", out, re.M)
    assert "answer: correct" in out
    assert "tokens: 1,140 (input 1,000, output 140) | model turns: 2 | execute_code runs: 1" in out
    assert "| tool calls: 36\n" in out
    assert "text fallback" not in out  # said only when it happened, and then explained
    # Each turn is announced (streamed: the live line counts the tokens on a terminal).
    assert "codeact: turn 1: the model reads the conversation...\n" in proc.stderr
    assert "codeact: turn 2: the model reads the conversation...\n" in proc.stderr
    assert order_totals_model.requests[0]["stream"] is True
    # The sandbox's few milliseconds are shown as such, never as "0.00 s".
    assert re.search(r"^time: [\d.]+ (s|ms) \(model [\d.]+ (s|ms), sandbox [\d.]+ ms, ", out, re.M)
    assert "sandbox 0.00" not in out
    tools = [t["function"]["name"] for t in order_totals_model.requests[0]["tools"]]
    assert tools == ["execute_code"]


def test_demo_says_when_the_answer_is_wrong(fake_openai: FakeOpenAI) -> None:
    guess = completion("Diana: 104.40\nEveryone else: 0\nsum 104.40")
    fake_openai.script(guess, guess)  # made up twice: asked once to use the tools, then it stands
    proc = codeact_cli("demo", "--base-url", fake_openai.url, "--json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["correct"] is False and data["error"] is None and data["model_turns"] == 2
    assert data["answer"].startswith("Diana: 104.40")
    assert data["nudges"] == ["no_tool_call"]
    assert (
        "codeact:   nudge: no_tool_call\n" in proc.stderr
    )  # what each turn did, as without --json


def test_demo_without_any_model_says_what_to_set(tmp_path: Path) -> None:
    env = {**CLEAN_ENV, "OPENAI_API_KEY": "sk-test"}
    proc = subprocess.run(
        [sys.executable, "-m", "codeact", "demo"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2
    assert "codeact: error: no model named for api.openai.com: set CODEACT_MODEL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_model_endpoint_failure_is_one_line(fake_openai: FakeOpenAI) -> None:
    # It was scored as a wrong answer: eight WRONG rows, "answer: NOT correct", the cause
    # last on stdout, exit 1 as for a wrong answer.
    fake_openai.policy = lambda body: error(401, "bad key")
    proc = codeact_cli("demo", "--base-url", fake_openai.url, "--model", "m")
    assert proc.returncode == 3
    assert "WRONG" not in proc.stdout and "answer:" not in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("codeact: error:")]
    assert len(errors) == 1 and "refused the credentials (HTTP 401)" in errors[0]
    assert proc.stderr.endswith(errors[0] + "\n")
    assert "Traceback" not in proc.stderr
    proc = codeact_cli("demo", "--base-url", fake_openai.url, "--model", "m", "--json")
    assert proc.returncode == 3 and proc.stdout == ""


def test_demo_with_an_unreachable_endpoint_says_so_not_a_wrong_answer() -> None:
    proc = codeact_cli("demo", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert proc.returncode == 3
    assert "WRONG" not in proc.stdout and "answer:" not in proc.stdout
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("codeact: error: cannot reach the model endpoint http://127.0.0.1:9/v1")
    assert last.endswith("; check --base-url")
    assert "3 when the task could not be run" in " ".join(
        codeact_cli("demo", "--help").stdout.split()
    )


def test_bench_runs_both_wirings_and_writes_table_json_chart(
    order_totals_model: FakeOpenAI, tmp_path: Path
) -> None:
    json_path, chart_path = tmp_path / "out" / "bench.json", tmp_path / "out" / "bench.png"
    json_path.parent.mkdir()  # a folder given must exist (a mistyped one is not made)
    proc = codeact_cli(
        "bench",
        "order-totals",
        "--base-url",
        order_totals_model.url,
        "--runs",
        "2",
        "--json",
        str(json_path),
        "--chart",
        str(chart_path),
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| metric (median) | CodeAct | direct | CodeAct / direct |" in out
    assert "| correct | 2/2 | 2/2 |  |" in out
    assert "| model turns | 2 | 4 | 0.50 |" in out
    assert "| total tokens | 1,140 | 2,010 | 0.57 |" in out
    assert "| tool calls | 36 | 26 | 1.38 |" in out
    assert "| one execute_code program | 2/2 | - |  |" in out
    assert "run 4/4: direct correct" in proc.stderr  # progress (one line per run: no tty)
    data = json.loads(json_path.read_text())
    assert data["model"] == "fake-model"
    assert [r["wiring"] for r in data["runs"]] == ["codeact", "direct"] * 2
    assert set(data["runs"][0]) == {
        "wiring",
        "correct",
        "wall_s",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "model_turns",
        "tool_calls",
        "fallback_parses",
        "error",
        "interrupted",
    }
    assert all(r["correct"] and r["error"] is None for r in data["runs"])
    direct = data["summary"]["direct"]
    assert direct["runs"] == 2 and direct["model_turns"] == 4 and direct["total_tokens"] == 2010
    assert data["summary"]["codeact"]["total_tokens"] == 1140
    assert chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_counts_and_shows_failed_runs(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    # A "model" that calls a tool forever: every run hits the turn limit.
    fake_openai.policy = lambda body: completion(None, [("list_users", {})])
    proc = codeact_cli(
        "bench",
        "order-totals",
        "--base-url",
        fake_openai.url,
        "--model",
        "looper",
        "--wiring",
        "direct",
        "--runs",
        "2",
        "--max-turns",
        "3",
        "--json",
        str(tmp_path / "b.json"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "| correct | 0/2 |" in proc.stdout and "| failed runs | 2 |" in proc.stdout
    assert "- direct: the model was still calling tools after max_turns=3 turns" in proc.stdout
    data = json.loads((tmp_path / "b.json").read_text())
    assert [r["model_turns"] for r in data["runs"]] == [3, 3]
    assert all(r["error"] and r["correct"] is False for r in data["runs"])
    assert (tmp_path / "b.png").exists()


def test_local_and_base_url_together_is_a_usage_error() -> None:
    proc = codeact_cli("demo", "--model", "local", "--base-url", "http://127.0.0.1:1/v1")
    assert proc.returncode == 2 and "leave out --base-url" in proc.stderr


def test_durations_read_in_the_unit_that_shows_them() -> None:
    from codeact.cli.demo_cmd import _duration

    assert _duration(43.04) == "43.0 s"
    assert _duration(1.0) == "1.0 s"
    assert _duration(0.0042) == "4.2 ms"
    assert _duration(0.00031) == "0.31 ms"
    assert _duration(0.0) == "0.00 ms"


def test_bench_with_every_run_interrupted_has_no_medians_and_fails(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """Every run cut short by the endpoint: no median is shown as a number, and the exit
    status says no run completed (before: medians of 0.0 s and 0 tokens, exit 0)."""
    fake_openai.policy = lambda body: error(401, "bad key")
    proc = codeact_cli(
        "bench",
        "order-totals",
        "--base-url",
        fake_openai.url,
        "--model",
        "m",
        "--wiring",
        "direct",
        "--runs",
        "1",
        "--json",
        str(tmp_path / "b.json"),
    )
    assert proc.returncode == 1, proc.stderr
    assert "| wall time (s) | - |" in proc.stdout and "| input tokens | - |" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("codeact: error:")]
    assert len(errors) == 1 and errors[0].startswith("codeact: error: no run completed: all 1")
    assert "HTTP 401" in errors[0] and "Traceback" not in proc.stderr
    summary = json.loads((tmp_path / "b.json").read_text())["summary"]["direct"]
    assert summary["interrupted"] == 1 and summary["wall_s"] is None
    assert summary["input_tokens"] is None
