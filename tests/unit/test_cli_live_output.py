"""`codeact exec` prints what the program prints as it prints it, and writes spans with
--trace: real processes and a real sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("wasm_ready")

SLOW_PRINTS = "import time\nprint('first')\ntime.sleep(1)\nprint('second')\n"


@pytest.mark.parametrize("backend", ["wasm", "jail"])
def test_exec_delivers_the_first_line_before_the_program_sleeps(
    backend: str, tmp_path: Path
) -> None:
    from codeact.sandbox.registry import backend_availability

    available = backend_availability(backend)
    if not available.available:
        pytest.skip(f"{backend}: {available.reason}")
    program = tmp_path / "slow.py"
    program.write_text(SLOW_PRINTS)
    arrived: dict[str, float] = {}
    with subprocess.Popen(
        [sys.executable, "-m", "codeact", "exec", str(program), "--backend", backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            for line in proc.stdout:
                arrived[line.strip()] = time.monotonic()
            assert proc.wait(timeout=120) == 0, proc.stderr.read()
        finally:
            proc.kill()
    assert set(arrived) >= {"first", "second"}
    assert arrived["second"] - arrived["first"] >= 0.8


def test_exec_trace_writes_the_spans_as_json_lines(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")
    trace = tmp_path / "trace.jsonl"
    proc = subprocess.run(
        [
            sys.executable, "-m", "codeact", "exec", "-",
            "--tools", "codeact.workloads.order_totals:TOOLS", "--trace", str(trace),
        ],
        input="len(list_users())",
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    spans = [json.loads(line) for line in trace.read_text().splitlines()]
    names = sorted(s["name"] for s in spans)
    assert names == ["execute_tool execute_code", "execute_tool list_users"]
    root = next(s for s in spans if s["name"] == "execute_tool execute_code")
    child = next(s for s in spans if s["name"] == "execute_tool list_users")
    assert child["parent_id"] == root["context"]["span_id"]
    assert root["attributes"]["codeact.outcome"] == "ok"


def test_exec_trace_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")
    proc = subprocess.run(
        [sys.executable, "-m", "codeact", "exec", "-", "--trace", str(tmp_path / "no" / "t")],
        input="1",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("codeact:")


def test_exec_trace_keeps_an_existing_file_when_nothing_runs(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")
    trace = tmp_path / "keep.jsonl"
    program = tmp_path / "p.py"
    program.write_text("1 + 1\n")
    (tmp_path / "empty").mkdir()
    refused = (
        ["--backend", "nope"],
        ["--package", "nosuchpackage", "--find-links", str(tmp_path / "empty")],
    )
    for options in refused:  # configuration fails: no run, the old trace stays
        trace.write_text("data\n")
        proc = subprocess.run(
            [sys.executable, "-m", "codeact", "exec", str(program), "--trace", str(trace),
             *options],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert trace.read_text() == "data\n", options
    proc = subprocess.run(  # a run replaces it with its spans
        [sys.executable, "-m", "codeact", "exec", str(program), "--trace", str(trace)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    spans = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [s["name"] for s in spans] == ["execute_tool execute_code"]
