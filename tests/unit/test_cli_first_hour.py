"""What a new user meets in the first hour of the CLI (issue 12): every usage error is one
line, every limit says how to raise it, sys.exit() is a status, tracebacks show only the
program, refusals explain themselves, Ctrl-C keeps the output. Real processes, real sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")


USAGE_ERRORS = [
    ("exec - --timeout -1", "--timeout: must be greater than 0 (got -1)"),
    ("exec - --timeout abc", "--timeout: must be a number of seconds (got 'abc')"),
    ("exec - --timeout 0.0001", "--timeout: must be at least 0.001 (got 0.0001)"),  # was Limits.
    ("exec - --memory 5000", "--memory: must be at most 4000 (got 5000)"),
    ("exec - --memory lots", "--memory: must be a whole number of MiB (got 'lots')"),
    ("exec - --max-output 0", "--max-output: must be at least 1 byte (got 0)"),  # was: 1 bytes
    ("exec - --max-output 1x", "--max-output: must be a size such as 2000000, 512k or 10MB (got '1x')"),  # noqa: E501
    ("exec - --nope", "no such option '--nope' (see codeact exec --help)"),
    ("exec", "missing argument 'PROGRAM.py|-'"),
    ("frob", "no such command 'frob' (see codeact --help)"),
    ("serve-mcp --timeout 0", "--timeout: must be greater than 0 (got 0)"),
    ("bench sandbox --runs x", "--runs: must be a whole number (got 'x')"),
    ("bench packages --runs 3 --package x", "--runs: must be from 5 to 100000 (got 3)"),
    ("bench m3tooleval --tasks 0", "--tasks: must be from 1 to 1000 (got 0)"),  # was: click's
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_every_usage_error_is_one_line_and_exit_2(args: str, message: str) -> None:
    proc = codeact_cli(*args.split(), stdin="1")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"codeact: error: {message}\n"
    assert proc.stdout == ""


@pytest.mark.parametrize("group", ["", "sandbox", "bench", "sandbox packages"])
def test_a_group_without_a_command_prints_its_whole_help_and_exits_2(group: str) -> None:
    # It printed the help squashed onto one cut-off `codeact: error:` line.
    proc = codeact_cli(*group.split())
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == codeact_cli(*group.split(), "--help").stdout
    assert proc.stderr.startswith(f"Usage: codeact {group} [OPTIONS] COMMAND".replace("  ", " "))
    assert "\nCommands:\n" in proc.stderr


def test_every_limit_in_plain_output_says_how_to_raise_it() -> None:
    proc = codeact_cli("exec", "-", "--timeout", "0.5", stdin="print('working')\nwhile True: pass")
    assert proc.returncode == 1 and proc.stdout == "working\n"
    assert "limit (wall_time=0.5s) and was stopped; raise it with --timeout SECONDS" in proc.stderr
    proc = codeact_cli("exec", "-", stdin="x = bytearray(400 * 1024 * 1024)")
    assert proc.returncode == 1
    assert "MemoryError" in proc.stderr
    assert "out of memory (limit 256 MiB); raise it with --memory MB" in proc.stderr
    proc = codeact_cli("exec", "-", "--memory", "512", stdin="len(bytearray(400 * 1024 * 1024))")
    assert proc.returncode == 0 and proc.stdout == f"{400 * 1024 * 1024}\n", proc.stderr


def test_output_past_the_limit_is_cut_with_a_word_and_exit_1() -> None:
    program = "print('x' * 3_000_000)\n'done'"
    proc = codeact_cli("exec", "-", stdin=program)
    assert proc.returncode == 1
    assert len(proc.stdout.encode()) <= 1024 * 1024 + 10 and proc.stdout.endswith('"done"\n')
    assert "past the output limit were dropped; raise it with --max-output SIZE" in proc.stderr
    proc = codeact_cli("exec", "-", "--max-output", "10MB", stdin=program)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "x" * 3_000_000 + '\n"done"\n' and proc.stderr == ""


def test_a_value_past_the_limit_is_cut_with_a_word_and_exit_1() -> None:
    # It was cut silently, exit 0: a different value looked like the program's.
    program = "x = list(range(300_000))\nx"
    proc = codeact_cli("exec", "-", stdin=program)
    assert proc.returncode == 1
    cut = len(repr(list(range(300_000)))) - 1024 * 1024
    assert proc.stdout.endswith(f"... [{cut} more bytes cut]\n")
    assert proc.stderr == (
        f"codeact: value cut: {cut:,} bytes of the last line's value past the output limit were "
        "dropped; raise it with --max-output SIZE (e.g. 10MB)\n"
    )
    proc = codeact_cli("exec", "-", "--json", stdin=program)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert (data["value_is_repr"], data["value_truncated_bytes"]) == (True, cut)
    assert data["output_truncated_bytes"] == cut
    proc = codeact_cli("exec", "-", "--max-output", "10MB", stdin=program)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == list(range(300_000)) and proc.stderr == ""


def test_the_value_starts_its_own_line_after_output_without_a_newline() -> None:
    # It was glued onto the output: `abc42`.
    proc = codeact_cli("exec", "-", stdin="print('abc', end='')\n42")
    assert (proc.returncode, proc.stdout) == (0, "abc\n42\n")
    proc = codeact_cli("exec", "-", stdin="print('abc')\n42")
    assert proc.stdout == "abc\n42\n"  # no blank line where the output ended its line
    proc = codeact_cli("exec", "-", stdin="import sys\nsys.stdout.write('x')\nNone")
    assert proc.stdout == "x"  # no value: the output exactly as printed


def test_sys_exit_is_the_programs_status() -> None:
    proc = codeact_cli("exec", "-", stdin="import sys\nprint('a')\nsys.exit(3)")
    assert proc.returncode == 1 and proc.stdout == "a\n"
    assert proc.stderr == "codeact: the program exited with status 3\n"
    proc = codeact_cli("exec", "-", "--json", stdin="import sys\nsys.exit(3)")
    data = json.loads(proc.stdout)
    assert data["exit_status"] == 3 and data["error"]["type"] == "SystemExit"
    proc = codeact_cli("exec", "-", stdin="import sys\nprint('a')\nsys.exit(0)")
    assert proc.returncode == 0 and proc.stdout == "a\n" and proc.stderr == ""


def test_tracebacks_hold_only_the_programs_frames() -> None:
    proc = codeact_cli("exec", "-", stdin="x = (1,\n")
    assert proc.returncode == 1
    assert "SyntaxError: '(' was never closed" in proc.stderr
    assert "ast.py" not in proc.stderr and "Traceback" not in proc.stderr
    proc = codeact_cli("exec", "-", stdin="import json\ndef f():\n    json.loads('nope')\nf()")
    frames = [line for line in proc.stderr.splitlines() if line.startswith("  File ")]
    assert frames == ['  File "<code>", line 4, in <module>', '  File "<code>", line 3, in f']


def test_sandbox_refusals_explain_themselves_in_cli_words() -> None:
    proc = codeact_cli(
        "exec", "-", stdin="import threading\nthreading.Thread(target=print).start()"
    )
    assert "RuntimeError: threads are not available in the sandbox" in proc.stderr
    program = (
        "import errno, socket\n"
        "try:\n    socket.socket()\nexcept PermissionError as e:\n"
        "    print(e.errno in (errno.EACCES, errno.EPERM), errno.errorcode[e.errno])\n"
        "socket.socket()"
    )
    proc = codeact_cli("exec", "-", stdin=program)
    assert proc.stdout == "True EACCES\n"
    assert (
        "PermissionError: [EACCES] no network in the sandbox; grant hosts with --allow-domain"
        in (proc.stderr)
    )
    proc = codeact_cli(
        "exec", "-", stdin="import urllib.request\nurllib.request.urlopen('https://example.com')"
    )
    assert "allow it with --allow-domain example.com" in proc.stderr
    assert "allowed_domains" not in proc.stderr


def test_tools_import_errors_give_file_line_and_last_line(tmp_path: Path) -> None:
    tools = tmp_path / "mytools.py"
    tools.write_text("import os\n\nraise RuntimeError('config missing')\n")
    proc = codeact_cli("exec", "-", "--tools", str(tools), stdin="1")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "mytools.py:3: RuntimeError: config missing" in proc.stderr
    tools.write_text("def broken(:\n    pass\n")
    proc = codeact_cli("exec", "-", "--tools", str(tools), stdin="1")
    assert proc.returncode == 2
    assert "mytools.py:1: SyntaxError: invalid syntax" in proc.stderr
    assert "('" not in proc.stderr


SLOW_TOOLS = """
import time
from pathlib import Path
from codeact import tool

@tool
def slow(marker: str) -> str:
    \"\"\"Take a long time.\"\"\"
    Path(marker).write_text("called")
    time.sleep(60)
    return "late"
"""


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_ctrl_c_during_a_slow_tool_keeps_the_output_and_exits_130(
    tmp_path: Path, kind: str
) -> None:
    tools = tmp_path / "slowtools.py"
    source = SLOW_TOOLS
    if kind == "async":
        source = source.replace("def slow", "async def slow").replace(
            "time.sleep(60)", "import asyncio\n    await asyncio.sleep(60)"
        )
    tools.write_text(source)
    marker = tmp_path / "called"
    program = f"print('before the call')\nslow({str(marker)!r})\nprint('never')"
    # A child inherits an ignored SIGINT (a suite started in the background, `cmd &`, runs
    # with SIGINT ignored): give it Ctrl-C as a terminal would, whatever this process got.
    inherited = signal.getsignal(signal.SIGINT)
    if inherited == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "codeact", "exec", "-", "--tools", str(tools)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        if inherited == signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    assert proc.stdin is not None
    proc.stdin.write(program)
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the tool was never called"
    os.kill(proc.pid, signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 130, stderr
    assert stdout == "before the call\n"
    assert stderr.strip().splitlines()[-1] == "codeact: interrupted"
    assert "Task was destroyed" not in stderr and "Traceback" not in stderr
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # nothing of its process group is left
