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


#: Colour (SGR), a window title (OSC), a hyperlink, a DCS string and the 8-bit CSI.
ESCAPES = (
    "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ "
    "\x1bPq\x1b\\ \x9b1m"
)


def test_output_to_a_file_is_exactly_what_the_program_printed(tmp_path: Path) -> None:
    # click stripped the colour codes (and only those) from output that was not a terminal:
    # `codeact exec p.py > out.txt` held neither what the program printed nor a safe form.
    program = tmp_path / "p.py"
    program.write_text(
        f"import sys\nE = {ESCAPES!r}\nprint(E)\nprint(E, file=sys.stderr)\n"
        "class V:\n    def __repr__(self):\n        return E\nV()\n"
    )
    proc = run(str(program))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == f"{ESCAPES}\n{ESCAPES}\n"
    assert proc.stderr.decode() == f"{ESCAPES}\n"
