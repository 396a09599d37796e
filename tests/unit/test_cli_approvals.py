"""`codeact exec --approve ask|all|none` and `--audit`, as a user runs them (real processes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ..cli_run import run_codeact

pytestmark = pytest.mark.usefixtures("wasm_ready")

TOOLS = '''
from codeact import tool

@tool(approval_mode="always_require")
def send_email(to: str, subject: str) -> str:
    """Send an email (needs approval)."""
    return f"sent to {to}"

@tool
def list_contacts() -> list[str]:
    """Everyone to write to."""
    return ["ann@example.com", "bob@example.com"]
'''

PROGRAM = """
for to in list_contacts():
    try:
        print(send_email(to=to, subject="hello"))
    except ToolDenied as e:
        print("denied:", e)
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    tools = tmp_path / "mail_tools.py"
    tools.write_text(TOOLS)
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    return program, tools


def codeact_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # A new session has no controlling terminal: nothing can fall back to asking on /dev/tty.
    return run_codeact(*args, stdin=stdin, new_session=True)


def test_ask_shows_each_call_and_follows_the_answers(files: tuple[Path, Path]) -> None:
    program, tools = files
    proc = codeact_cli(
        "exec", str(program), "--tools", str(tools), "--approve", "ask", stdin="y\nn\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "sent to ann@example.com",
        "denied: the call of send_email() was denied: declined at the terminal",
    ]
    assert "send_email once (line 4, in a loop or function: maybe more often)" in proc.stderr
    assert "wants to call send_email(to='ann@example.com', subject='hello')" in proc.stderr
    assert proc.stderr.count("approve? [y/N]") == 2


def test_all_approves_and_none_denies_every_gated_call(files: tuple[Path, Path]) -> None:
    program, tools = files
    approved = codeact_cli("exec", str(program), "--tools", str(tools), "--approve", "all")
    assert approved.stdout.splitlines() == ["sent to ann@example.com", "sent to bob@example.com"]
    denied = codeact_cli("exec", str(program), "--tools", str(tools), "--approve", "none")
    assert denied.returncode == 0
    assert denied.stdout.count("denied by --approve none") == 2
    assert "approve?" not in denied.stderr


def test_without_a_terminal_gated_calls_are_denied_with_a_hint(files: tuple[Path, Path]) -> None:
    program, tools = files
    proc = codeact_cli("exec", str(program), "--tools", str(tools))
    assert proc.stdout.count("run with --approve all to allow it") == 2


def test_ask_with_the_program_on_stdin_and_no_terminal_is_a_usage_error(
    files: tuple[Path, Path],
) -> None:
    _, tools = files
    proc = codeact_cli("exec", "-", "--tools", str(tools), "--approve", "ask", stdin=PROGRAM)
    assert proc.returncode == 2
    assert proc.stderr.startswith("codeact: error: --approve ask needs a terminal")


def test_audit_file_and_json_output_carry_the_decisions(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    program, tools = files
    audit = tmp_path / "audit.jsonl"
    args = ["exec", str(program), "--tools", str(tools), "--approve", "ask"]
    proc = codeact_cli(*args, "--audit", str(audit), "--json", stdin="n\ny\n")
    assert proc.returncode == 0, proc.stderr
    calls = json.loads(proc.stdout)["tool_calls"]
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert lines == calls
    assert [(c["name"], c["decision"], c["outcome"]) for c in lines] == [
        ("list_contacts", "not_required", "ok"),
        ("send_email", "denied", "denied"),
        ("send_email", "approved", "ok"),
    ]
    assert lines[1]["handler"] == "cli --approve ask"
