"""`codeact exec --session FILE`: the file itself (written last, locked, links, limits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")

TOOLS = '''
import os
import shutil
import time
from pathlib import Path

from codeact import tool


@tool
def remove_session_dir() -> str:
    """Remove the directory of the session file, as a user or a cleanup job may."""
    shutil.rmtree(os.environ["SESSION_DIR"])
    return "removed"


@tool
def hold() -> str:
    """Say the run started, then wait until the test says go."""
    flags = Path(os.environ["FLAGS"])
    (flags / "started").write_text("")
    for _ in range(6000):
        if (flags / "go").exists():
            return "go"
        time.sleep(0.05)
    return "gave up"
'''


def _tools(tmp_path: Path) -> str:
    path = tmp_path / "session_tools.py"
    path.write_text(TOOLS)
    return str(path)


def test_a_session_file_that_cannot_be_written_after_the_run_loses_only_the_variables(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "sessions"
    folder.mkdir()
    state, out = folder / "work.session", tmp_path / "out"
    program = (
        "remove_session_dir()\n"
        "open('/output/report.txt', 'w').write('important')\n"
        "print('hello')\n"
        "6 * 7\n"
    )
    proc = codeact_cli(
        "exec", "-", "--session", str(state), "--tools", _tools(tmp_path),
        "--output-dir", str(out), stdin=program,
        env={**os.environ, "SESSION_DIR": str(folder)},
    )  # fmt: skip
    # was: only "codeact: error: cannot write the session file ...", exit 2: result, files lost
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "hello\n42\n"
    assert (out / "report.txt").read_text() == "important"
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"codeact: error: cannot write the session file {state} (")
    assert "variables were not kept" in errors[0]
    assert proc.stderr.index("saved 1 file(s)") < proc.stderr.index(errors[0])


def test_a_second_run_on_the_same_session_file_waits_for_the_first(tmp_path: Path) -> None:
    state, flags = tmp_path / "work.session", tmp_path / "flags"
    flags.mkdir()
    (tmp_path / "a.py").write_text("a = 1\nhold()\n")
    (tmp_path / "b.py").write_text("b = 2\n")
    env = {**os.environ, "FLAGS": str(flags)}

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "codeact", "exec", *args, "--session", str(state)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip

    first = start(str(tmp_path / "a.py"), "--tools", _tools(tmp_path))
    second = None
    try:
        while not (flags / "started").exists() and first.poll() is None:
            time.sleep(0.05)  # the first run holds the file and runs its program
        second = start(str(tmp_path / "b.py"))
        assert second.stderr is not None
        told = second.stderr.readline()  # its first word (at its end, if it did not wait)
        (flags / "go").write_text("")
        first_err = first.communicate(timeout=120)[1]
        second_err = told + second.communicate(timeout=120)[1]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    # was: both ran at once and the later save dropped the other's variable
    assert told == f"codeact: waiting for another run with --session {state} to finish...\n"
    assert first.returncode == 0 and second.returncode == 0, (first_err, second_err)
    both = codeact_cli("exec", "-", "--session", str(state), stdin="[a, b]")
    assert both.returncode == 0 and both.stdout.strip() == "[1, 2]", both.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_a_linked_session_file_is_written_through_the_link(tmp_path: Path) -> None:
    real, link = tmp_path / "real.session", tmp_path / "link.session"
    assert codeact_cli("exec", "-", "--session", str(real), stdin="x = 1").returncode == 0
    link.symlink_to(real)
    changed = codeact_cli("exec", "-", "--session", str(link), stdin="x = 2")
    assert changed.returncode == 0, changed.stderr
    # was: the link was replaced by a regular file and its target went stale
    assert link.is_symlink()
    seen = codeact_cli("exec", "-", "--session", str(real), stdin="x")
    assert seen.stdout.strip() == "2", seen.stderr


def test_a_session_on_stdin_is_refused_in_one_line(tmp_path: Path) -> None:
    proc = codeact_cli("exec", "-", "--session", "-", stdin="x = 1", cwd=tmp_path)
    # was: a file named "-" made in the working directory
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "codeact: error: --session -: a session is kept in a file, not on stdin or stdout; "
        "give a FILE path (it is made on first use)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_state_over_the_limit_exits_1_and_says_what_to_do_from_the_cli(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    codeact_cli("exec", "-", "--session", str(state), stdin="small = 1")
    before = state.read_bytes()
    proc = codeact_cli(
        "exec", "-", "--session", str(state), stdin="big = 'x' * (17 * 2**20)\n6 * 7"
    )
    # was: exit 0, and a note naming Limits.state_bytes, which no flag sets
    assert proc.returncode == 1 and proc.stdout == "42\n", proc.stderr
    assert "(16.0 MiB, the most a --session FILE holds)" in proc.stderr
    assert "Limits." not in proc.stderr and "Keep less" in proc.stderr
    assert state.read_bytes() == before


def test_the_names_a_session_holds_are_shown_capped_and_counted(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    program = "for i in range(20000):\n    globals()[f'v{i}'] = i\ndel i"
    proc = codeact_cli("exec", "-", "--session", str(state), stdin=program)
    assert proc.returncode == 0, proc.stderr
    (holds,) = [line for line in proc.stderr.splitlines() if " holds: " in line]
    # was: all 20,000 names on one 69 KB line
    assert holds.endswith(" ... and 19980 more") and len(holds) < 500
    listed = codeact_cli("exec", "-", "--json", "--session", str(state), stdin="v19999")
    assert listed.returncode == 0, listed.stderr
    session = json.loads(listed.stdout)["session"]
    assert json.loads(listed.stdout)["value"] == 19999
    # was: the list silently cut at 10,000
    assert len(session["names"]) == 10000 and session["names_left_out"] == 10000
    assert session["kept"]


def test_a_state_near_the_limit_with_long_non_ascii_names_is_read_back(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    program = (
        "blob = 'x' * 14_500_000\n"
        "exec('\\n'.join(f\"{'数' * 150}_{i} = {i}\" for i in range(2000)))\n"
        "len(blob)\n"
    )
    made = codeact_cli("exec", "-", "--session", str(state), stdin=program, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    again = codeact_cli("exec", "-", "--session", str(state), stdin="len(blob)", timeout=300)
    # was: "--session ...: larger than a session's state may be": a file it wrote itself
    assert again.returncode == 0 and again.stdout.strip() == "14500000", again.stderr[-2000:]


def test_files_that_cannot_be_saved_do_not_lose_the_variables(tmp_path: Path) -> None:
    """--output-dir refuses to save (the program made DIR a link): exit 1 with that line,
    and the session still holds what the run defined."""
    project = tmp_path / "proj"
    (project / "out").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    session = tmp_path / "s.state"
    swap = (
        "import os\n"
        "os.rmdir('/proj/out')\n"
        "os.symlink('../elsewhere', '/proj/out')\n"
        "open('/output/f.txt', 'w').write('x')\n"
        "kept = 41\n"
    )
    args = ("exec", "-", "--session", str(session), "--mount", f"{project}:/proj:rw")
    proc = codeact_cli(*args, "--output-dir", str(project / "out"), stdin=swap)
    assert proc.returncode == 1, proc.stderr
    assert "nothing saved" in proc.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []
    again = codeact_cli("exec", "-", "--session", str(session), stdin="kept + 1")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "42"
