"""The CLI as a user runs it: real processes, real sandbox, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeact.workloads import order_totals

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")


def test_exec_order_totals_prints_every_total_and_the_sum(tmp_path: Path) -> None:
    program = tmp_path / "totals.py"
    program.write_text(order_totals.PROGRAM)
    proc = codeact_cli("exec", str(program), "--tools", "codeact.workloads.order_totals:TOOLS")
    assert proc.returncode == 0, proc.stderr
    assert order_totals.check_answer(proc.stdout)
    assert "sum: 334.15" in proc.stdout


def test_exec_json_has_every_field(tmp_path: Path) -> None:
    proc = codeact_cli(
        "exec",
        "-",
        "--tools",
        "codeact.workloads.order_totals",
        "--json",
        stdin="print(len(list_users()))\nget_tax_rate('EU')",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True and data["stdout"] == "8\n" and data["value"] == 0.21
    assert data["error"] is None
    assert [c["name"] for c in data["tool_calls"]] == ["list_users", "get_tax_rate"]
    assert set(data["tool_calls"][0]) == {
        "name",
        "arguments",
        "started_ms",
        "duration_ms",
        "outcome",
        "error",
        "origin",
        "decision",
        "handler",
        "reason",
        "approval_ms",
        "run_id",
    }
    assert {"total_ms", "run_ms"} <= set(data["timings"])


def test_exec_failure_exits_1_with_the_traceback_on_stderr() -> None:
    proc = codeact_cli("exec", "-", stdin="x = 1\nraise ValueError('bad')\n")
    assert proc.returncode == 1
    assert 'File "<code>", line 2' in proc.stderr and "ValueError: bad" in proc.stderr


def test_exec_limit_is_reported_with_its_name() -> None:
    proc = codeact_cli("exec", "-", "--timeout", "0.5", "--json", stdin="while True: pass")
    assert proc.returncode == 1
    error = json.loads(proc.stdout)["error"]
    assert error["limit"] == "wall_time" and error["type"] == "LimitExceeded"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["exec", "/no/such/file.py"], "no such program file"),
        (["exec", "-", "--tools", "no_such_module_xyz"], "cannot import module"),
        (["exec", "-", "--tools", "codeact.workloads.order_totals:NOPE"], "has no attribute"),
        (["exec", "-", "--backend", "nope"], "unknown sandbox backend 'nope'"),
        (["exec", "-", "--memory", "1"], "codeact: error: --memory: must be at least 32 (got 1)"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    proc = codeact_cli(*args, stdin="1")
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tools_from_a_file(tmp_path: Path) -> None:
    module = tmp_path / "mytools.py"
    module.write_text(
        "from codeact import tool\n\n@tool\ndef double(x: int) -> int:\n"
        '    """Double it."""\n    return 2 * x\n'
    )
    proc = codeact_cli("exec", "-", "--tools", str(module), stdin="double(21)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "42"
