"""The command line when its standard streams are not a terminal or a file: a reader that goes
away (`codeact exec p.py | head`), stdin or stdout closed at start. Real processes, real
sandbox: each case once printed a traceback per line of output or an "internal error"."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeact import CodeAct

pytestmark = pytest.mark.usefixtures("wasm_ready")

FLOOD = "import time\nfor i in range(10**7):\n    print(i)\n"


def _piped_to_head(args: list[str], stdin: str = "", lines: int = 2) -> tuple[int, str, float]:
    """Run `codeact ARGS | head -LINES`: return codeact's status, its stderr and seconds."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeact", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    got = [proc.stdout.readline() for _ in range(lines)]
    assert all(got), got
    proc.stdout.close()  # what `head` does once it has its lines
    err = proc.stderr.read().decode()
    proc.stderr.close()
    status = proc.wait(timeout=60)
    return status, err, time.monotonic() - started


def test_exec_piped_to_head_stops_the_program_quietly_with_141() -> None:
    status, err, seconds = _piped_to_head(["exec", "-"], stdin=FLOOD)
    assert err == ""  # was: one "output/event callback failed" traceback per line printed
    assert status == 141
    assert seconds < 20  # stopped at the closed pipe, not at the 30 s wall time


def test_other_commands_piped_to_head_exit_141_without_internal_error() -> None:
    status, err, _ = _piped_to_head(["--help"], lines=1)
    assert (status, err) in ((141, ""), (0, ""))  # --help may fit in the pipe before it closes
    status, err, _ = _piped_to_head(["doctor", "--runs", "0"], lines=1)
    assert "internal error" not in err and "Traceback" not in err
    assert status in (0, 141)


def _closed_fd(fd: int) -> None:
    os.close(fd)


def test_exec_with_stdin_closed_runs_the_program(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text("print('hi')\n1 + 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "codeact", "exec", str(program)],
        capture_output=True,
        text=True,
        preexec_fn=lambda: _closed_fd(0),
        timeout=120,
    )
    # was: codeact: error: internal error: AttributeError: 'NoneType' object has no attribute
    # 'isatty'
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hi\n2\n" and proc.stderr == ""


def test_exec_dash_with_stdin_closed_reads_an_empty_program() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codeact", "exec", "-"],
        capture_output=True,
        text=True,
        preexec_fn=lambda: _closed_fd(0),
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_exec_with_stdout_closed_prints_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codeact", "exec", "-"],
        input="print('x')\n",
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _closed_fd(1),
        timeout=120,
    )
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr


def test_a_failing_output_callback_is_logged_once_per_execution(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(chunk: object) -> None:
        raise ValueError("listener bug")

    with caplog.at_level(logging.WARNING, logger="codeact"):
        result = CodeAct().execute_sync("for i in range(200):\n    print(i)", on_output=broken)
    assert result.ok and result.stdout.count("\n") == 200  # the program is not harmed
    failures = [r for r in caplog.records if "callback failed" in r.getMessage()]
    assert len(failures) == 1, len(failures)
    assert failures[0].exc_info is not None and "listener bug" in str(failures[0].exc_info[1])


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_exec_dash_on_a_terminal_says_how_to_end_the_program() -> None:
    import pty
    import select

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeact", "exec", "-"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"Ctrl-D" not in seen and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.2)[0]:
                seen += os.read(leader, 4096)
        # was: nothing at all; the command looked hung
        assert b"codeact: type the program, then Ctrl-D on a line of its own" in seen, seen
        os.write(leader, b"print(6 * 7)\n\x04")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
