"""The throughput and memory table of `codeact bench sandbox`: real measurements, small."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeact.bench.throughput import ThroughputResult, load_table, tree_cpu_seconds, tree_pss_mb
from codeact.cli import main as cli_main
from codeact.sandbox.registry import backend_availability

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc smaps_rollup"
)


@needs_proc
def test_tree_pss_counts_child_processes() -> None:
    before = tree_pss_mb()
    assert before > 1
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; b = bytearray(64 << 20); sys.stdout.write('ok\\n'); "
            "sys.stdout.flush(); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ok\n"
        time.sleep(0.05)
        assert tree_pss_mb() - before > 40  # the child's 64 MB, written, is its own
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_load_table_shows_rates_ratio_and_memory() -> None:
    def rates(program: str, one: float, two: float, busy: float) -> list[dict[str, object]]:
        return [
            {
                "case": f"throughput {program} x1",
                "per_second": one,
                "cores_busy": busy,
                "cpu_ms": 4.0,
            },
            {
                "case": f"throughput {program} x2",
                "per_second": two,
                "cores_busy": 1.9,
                "cpu_ms": 5.5,
            },
        ]

    loads = {
        "wasm": {
            "throughput": rates("print(1)", 100.0, 180.0, 1.6)
            + rates("order_totals", 50.0, 60.0, float("nan")),
            "machine_2_over_1": 2.0,
            "pool_mb": 12.5,
            "execution_mb": 3.25,
        }
    }
    table = load_table(loads)
    lines = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert "1.800" in lines["print(1): 2 callers / 1"]
    assert "1.200" in lines["order_totals: 2 callers / 1"]
    # One caller kept 1.6 of the 2 cores busy: two can make at most 2 / 1.6 times as many.
    assert "1.600" in lines["print(1): cores busy, 1 caller"]
    bound = "2 callers / 1 if CPU per execution stays (machine / cores busy)"
    assert "1.250" in lines[f"print(1): {bound}"]
    assert "4.000" in lines["print(1): CPU ms per execution, 1 caller"]
    assert "5.500" in lines["print(1): CPU ms per execution, 2 callers"]
    # Where the CPU time is unknown (no /proc), the cells are empty, not a made-up bound.
    assert lines[f"order_totals: {bound}"].split("|")[2].strip() == "-"
    assert lines["order_totals: cores busy, 1 caller"].split("|")[2].strip() == "-"
    assert "2.000" in lines["machine: 2 processes / 1 (cores it gives)"]
    assert "12.500" in lines["memory: warm pool (MB, PSS anon)"]
    assert "3.250" in lines["memory: one execution (MB, peak PSS anon)"]


def test_throughput_result_gives_cores_busy() -> None:
    result = ThroughputResult("wasm", "print(1)", 1, 100, per_second=400.0, cpu_ms=4.0)
    assert result.cores_busy == pytest.approx(1.6)
    assert result.to_dict()["cores_busy"] == pytest.approx(1.6)
    assert result.to_dict()["cpu_ms"] == pytest.approx(4.0)


_BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass\n"


@needs_proc
def test_tree_cpu_counts_children_and_what_they_reaped() -> None:
    """The jail's children are forked by its zygote, which reaps them: their CPU time is in
    the zygote's reaped-children time, which a process-tree total must count."""
    grandchild = _BURN.format(s=0.3)
    child_code = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)\n"
        "sys.stdout.write('reaped\\n'); sys.stdout.flush()\n"
        "sys.stdin.read()\n"  # stays alive (unreaped) until the test closes its stdin
    )
    before = tree_cpu_seconds()
    child = subprocess.Popen(
        [sys.executable, "-c", child_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"reaped\n"
        assert tree_cpu_seconds() - before >= 0.25  # the grandchild's 0.3 s, reaped by the child
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


@needs_proc
def test_tree_cpu_counts_this_process() -> None:
    before = tree_cpu_seconds()
    started = time.process_time()
    while time.process_time() - started < 0.05:
        pass
    assert tree_cpu_seconds() - before >= 0.04


@needs_proc
@pytest.mark.skipif(
    not backend_availability("wasm").available, reason="the wasm backend is not available"
)
def test_bench_sandbox_prints_throughput_and_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table and the JSON, and what they say where a figure cannot be measured (here
    the one-caller cases' CPU time, as on a system without /proc): an empty cell, and null
    in the JSON, which has no NaN (strict readers refuse the NaN that json.dumps writes)."""
    from codeact.bench import throughput

    real = throughput.tree_cpu_seconds
    unmeasured = [float("nan"), float("nan")]  # the first case's readings, before and after

    def cpu_seconds() -> float:
        return unmeasured.pop() if unmeasured else real()

    monkeypatch.setattr(throughput, "tree_cpu_seconds", cpu_seconds)
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        cli_main,
        ["bench", "sandbox", "--backend", "wasm", "--runs", "5", "--no-monty", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "print(1): executions/s, 2 callers" in result.output
    assert "memory: warm pool (MB, PSS anon)" in result.output
    load = json.loads(out.read_text(), parse_constant=_refuse)["load"]["wasm"]
    assert {t["case"] for t in load["throughput"]} == {
        "throughput print(1) x1",
        "throughput print(1) x2",
        "throughput order_totals x1",
        "throughput order_totals x2",
    }
    assert all(t["per_second"] > 0 for t in load["throughput"])
    first, *others = load["throughput"]
    assert first["case"] == "throughput print(1) x1"
    assert first["cpu_ms"] is None and first["cores_busy"] is None
    assert all(t["cores_busy"] > 0 for t in others)
    bound = "print(1): 2 callers / 1 if CPU per execution stays (machine / cores busy)"
    row = next(line for line in result.output.splitlines() if bound in line)
    assert row.split("|")[2].strip() == "-"
    assert "print(1): cores busy, 1 caller" in result.output
    assert "print(1): CPU ms per execution, 2 callers" in result.output
    assert load["pool_mb"] > 0


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in the JSON: not JSON")


def test_json_text_writes_what_was_not_measured_as_null() -> None:
    from codeact.bench.stats import json_file_text

    text = json_file_text(
        {"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": "x"}
    )
    assert json.loads(text, parse_constant=_refuse) == {
        "a": None,
        "b": [1.5, None, {"c": None}],
        "d": "x",
    }
    assert text.endswith("}\n")
