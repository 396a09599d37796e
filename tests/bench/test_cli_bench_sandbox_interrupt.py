"""Ctrl-C during `codeact bench sandbox` keeps the cases already measured: their table on
stdout and their JSON (marked interrupted), then `codeact: interrupted` and 130 (before, a
run of minutes interrupted near its end printed nothing). A real process and sandbox."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.usefixtures("wasm_ready"),
    pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT"),
]


def test_ctrl_c_keeps_the_cases_measured(tmp_path: Path) -> None:
    json_path = tmp_path / "bench.json"
    args = ["sandbox", "--backend", "wasm", "--runs", "20", "--no-monty", "--no-throughput"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeact", "bench", *args, "--json", str(json_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it (a background job, as CI may start us, ignores it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith("measuring wasm's sessions") or not line:
            break
    proc.send_signal(signal.SIGINT)  # the sessions' cases take seconds: they are under way
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (seen, out, err)
    assert err.rstrip().endswith("codeact: interrupted"), err
    assert "interrupted: the cases not measured are empty" in out, out
    fresh = next(line for line in out.splitlines() if line.startswith("| fresh "))
    assert float(fresh.split("|")[2]) > 0, fresh  # the fresh case's p50, measured
    payload = json.loads(json_path.read_text())
    assert payload["interrupted"] is True
    kept = {r["case"] for r in payload["results"]}
    assert {"fresh", "call_tool", "order_totals"} <= kept, kept
    assert "session_10MiB_read" not in kept  # the last sessions' case was not reached
