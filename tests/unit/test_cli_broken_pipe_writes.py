"""`codeact exec ... | head -c 100` exits 141 when what the reader missed was one large write
(a big last-line value, a --json result), not only when it was streamed output; also with
PYTHONUNBUFFERED=1 (`python -u`, many container images), where Python's unbuffered stdout
drops the rest of a short write without a word."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("wasm_ready")

BIG_VALUE = 'print("hi")\n"x" * 3000000\n'
MANY_LINES = "for i in range(100000):\n    print(i)\n"


def _read_100_then_close(args: list[str], unbuffered: bool) -> tuple[int, str]:
    """`codeact ARGS | head -c 100`: codeact's status and its stderr."""
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeact", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    got = proc.stdout.read(100)
    assert len(got) == 100, got
    proc.stdout.close()  # what `head -c 100` does once it has its bytes
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
def test_a_large_value_to_a_reader_that_went_away_exits_141(
    tmp_path: Path, unbuffered: bool
) -> None:
    program = tmp_path / "big.py"
    program.write_text(BIG_VALUE)
    status, err = _read_100_then_close(["exec", str(program), "--max-output", "50MB"], unbuffered)
    assert (status, err) == (141, "")


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
def test_a_large_json_result_to_a_reader_that_went_away_exits_141(
    tmp_path: Path, unbuffered: bool
) -> None:
    program = tmp_path / "many.py"
    program.write_text(MANY_LINES)
    status, err = _read_100_then_close(["exec", str(program), "--json"], unbuffered)
    assert (status, err) == (141, "")


def test_a_large_value_read_to_the_end_is_whole(tmp_path: Path) -> None:
    program = tmp_path / "big.py"
    program.write_text(BIG_VALUE)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "codeact", "exec", str(program), "--max-output", "50MB"],
        capture_output=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'hi\n"' + b"x" * 3000000 + b'"\n'
