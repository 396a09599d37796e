"""Ctrl-C during `codeact bench sandbox` keeps the cases already measured: their table on
stdout and their JSON (marked interrupted), then `codeact: interrupted` and 130 (before, a
run of minutes interrupted near its end printed nothing). A real process and sandbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ..cli_run import interrupt_codeact

pytestmark = [
    pytest.mark.usefixtures("wasm_ready"),
    pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT"),
]


def test_ctrl_c_keeps_the_cases_measured(tmp_path: Path) -> None:
    json_path = tmp_path / "bench.json"
    args = ["sandbox", "--backend", "wasm", "--runs", "20", "--no-monty", "--no-throughput"]
    status, out, err = interrupt_codeact(
        "bench", *args, "--json", str(json_path), after_line="measuring wasm's sessions"
    )  # the sessions' cases take seconds: they are under way
    assert status == 130, (out, err)
    assert err.rstrip().endswith("codeact: interrupted"), err
    assert "interrupted: the cases not measured are empty" in out, out
    fresh = next(line for line in out.splitlines() if line.startswith("| fresh "))
    assert float(fresh.split("|")[2]) > 0, fresh  # the fresh case's p50, measured
    payload = json.loads(json_path.read_text())
    assert payload["interrupted"] is True
    kept = {r["case"] for r in payload["results"]}
    assert {"fresh", "call_tool", "order_totals"} <= kept, kept
    assert "session_10MiB_read" not in kept  # the last sessions' case was not reached
