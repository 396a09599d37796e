"""The throughput and memory table of `codeact bench sandbox`: real measurements, small."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeact.bench.throughput import load_table, tree_pss_mb
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
    def rates(program: str, one: float, two: float) -> list[dict[str, object]]:
        return [
            {"case": f"throughput {program} x1", "per_second": one},
            {"case": f"throughput {program} x2", "per_second": two},
        ]

    loads = {
        "wasm": {
            "throughput": rates("print(1)", 100.0, 180.0) + rates("order_totals", 50.0, 60.0),
            "pool_mb": 12.5,
            "execution_mb": 3.25,
        }
    }
    table = load_table(loads)
    lines = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert "1.800" in lines["print(1): 2 callers / 1"]
    assert "1.200" in lines["order_totals: 2 callers / 1"]
    assert "12.500" in lines["memory: warm pool (MB, PSS anon)"]
    assert "3.250" in lines["memory: one execution (MB, peak PSS anon)"]


@needs_proc
@pytest.mark.skipif(
    not backend_availability("wasm").available, reason="the wasm backend is not available"
)
def test_bench_sandbox_prints_throughput_and_memory(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        cli_main,
        ["bench", "sandbox", "--backend", "wasm", "--runs", "5", "--no-monty", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "print(1): executions/s, 2 callers" in result.output
    assert "memory: warm pool (MB, PSS anon)" in result.output
    load = json.loads(out.read_text())["load"]["wasm"]
    assert {t["case"] for t in load["throughput"]} == {
        "throughput print(1) x1",
        "throughput print(1) x2",
        "throughput order_totals x1",
        "throughput order_totals x2",
    }
    assert all(t["per_second"] > 0 for t in load["throughput"])
    assert load["pool_mb"] > 0
