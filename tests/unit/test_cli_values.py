"""`codeact exec` prints any value a program gives back: lone surrogates (which UTF-8 cannot
encode) come out escaped, in plain and in --json output, and the exit status is the
program's, not a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("wasm_ready")

PROGRAM = """
s = "a\\udc80b\\ud800"
print(s)
import sys
print(s, file=sys.stderr)
{"lone": s, "k\\udfff": [s]}
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "codeact", "exec", *args],
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_plain_output_escapes_lone_surrogates(tmp_path: Path, encoding: str) -> None:
    program = tmp_path / "p.py"
    program.write_text(PROGRAM)
    proc = run(str(program), env={"PYTHONIOENCODING": encoding})
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    lines = proc.stdout.decode("ascii").splitlines()
    assert lines[0] == "a\\udc80b\\ud800"
    assert json.loads(lines[1]) == {"lone": "a\udc80b\ud800", "k\udfff": ["a\udc80b\ud800"]}


def test_json_output_is_valid_json_with_the_surrogates_escaped(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text(PROGRAM)
    proc = run("--json", str(program))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.decode("utf-8"))
    assert data["value"] == {"lone": "a\udc80b\ud800", "k\udfff": ["a\udc80b\ud800"]}
