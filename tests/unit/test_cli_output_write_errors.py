"""`codeact exec` whose output cannot be written (a full disk: /dev/full; stdout closed at
start: `>&-`) fails with one line and exit 1, as `cat` does, and stops the program whose live
output can no longer be delivered. Was: exit 0 with a callback traceback, the program run to
its end with its output lost, or an "internal error" line."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.usefixtures("wasm_ready"),
    pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full"),
]

LONG = "import time\nfor i in range(10**7):\n    print(i)\n"


def _run(args: list[str], *, stdout: object = None, close_stdout: bool = False) -> tuple[int, str]:
    with open("/dev/full", "w") as full:
        proc: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
            [sys.executable, "-m", "codeact", *args],
            stdin=subprocess.DEVNULL,
            stdout=full if stdout is None else stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            preexec_fn=(lambda: os.close(1)) if close_stdout else None,
        )
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    "program",
    ['print("hi")\n', 'print("hi")\n1 + 1\n', "for i in range(100000):\n    print(i)\n"],
    ids=["printed", "value", "many-lines"],
)
@pytest.mark.parametrize("as_json", [False, True], ids=["plain", "json"])
def test_exec_to_a_full_disk_says_so_in_one_line_and_exits_1(
    tmp_path: Path, program: str, as_json: bool
) -> None:
    path = tmp_path / "p.py"
    path.write_text(program)
    status, err = _run(["exec", str(path), *(["--json"] if as_json else [])])
    assert status == 1, err
    assert err == "codeact: error: cannot write the output: No space left on device\n", err


def test_exec_to_a_full_disk_stops_the_program(tmp_path: Path) -> None:
    path = tmp_path / "p.py"
    path.write_text(LONG)
    started = time.monotonic()
    status, err = _run(["exec", str(path), "--timeout", "60"])
    assert status == 1 and "cannot write the output" in err, err
    assert time.monotonic() - started < 40  # stopped at the failed write, not at the timeout


def test_exec_with_stdout_closed_fails_when_the_program_prints(tmp_path: Path) -> None:
    path = tmp_path / "p.py"
    path.write_text('print("hi")\n')
    status, err = _run(["exec", str(path)], stdout=subprocess.DEVNULL, close_stdout=True)
    assert status == 1, err
    assert err == "codeact: error: cannot write the output: Bad file descriptor\n", err


def test_help_to_a_full_disk_exits_1() -> None:
    status, err = _run(["--help"])
    assert status == 1 and "Traceback" not in err, err
    assert err == "codeact: error: cannot write the output: No space left on device\n", err


#: Every command that writes to stdout, each with arguments that make it write at once.
WRITERS = [
    ["--version"],
    ["doctor", "--runs", "0"],
    ["doctor", "--runs", "0", "--json"],
    ["sandbox", "packages", "list"],
    ["bench", "sandbox", "--runs", "5", "--no-sessions", "--no-throughput", "--no-monty"],
    ["demo", "--help"],
    ["serve-mcp", "--help"],
    ["bench", "--help"],
    ["sandbox", "--help"],
]


@pytest.mark.parametrize("args", WRITERS, ids=" ".join)
@pytest.mark.parametrize("closed", [False, True], ids=["full", "closed"])
def test_every_command_says_a_failed_output_as_exec_does(args: list[str], closed: bool) -> None:
    """Was: "codeact: error: internal error: OSError: [Errno 28] No space left on device" from
    doctor and sandbox packages list (bench sandbox too); a traceback from `--help >&-`."""
    if closed:
        status, err = _run(args, stdout=subprocess.DEVNULL, close_stdout=True)
        reason = "Bad file descriptor"
    else:
        status, err = _run(args)
        reason = "No space left on device"
    assert status == 1, err
    assert err.splitlines()[-1:] == [f"codeact: error: cannot write the output: {reason}"], err
    assert "internal error" not in err and "Traceback" not in err, err


def test_a_failed_write_of_a_file_is_not_taken_for_the_output() -> None:
    """Only stdout's own failures are "cannot write the output"."""
    from codeact.cli.streams import OutputWriteError, guard_stdout

    saved = sys.stdout
    full = io.TextIOWrapper(open("/dev/full", "wb", buffering=0), write_through=True)  # noqa: SIM115
    try:
        sys.stdout = full
        guard_stdout()
        with pytest.raises(OutputWriteError, match="No space left on device"):
            print("x")
        with pytest.raises(OSError) as raised, open("/dev/full", "wb", buffering=0) as other:
            other.write(b"x")
        assert not isinstance(raised.value, OutputWriteError)
    finally:
        sys.stdout = saved
        with contextlib.suppress(OSError):
            full.close()
