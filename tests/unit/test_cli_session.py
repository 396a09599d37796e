"""`codeact exec --session FILE`: variables kept in a file between runs of the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")


def test_exec_session_file_carries_variables_between_runs(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    first = codeact_cli("exec", "-", "--session", str(state), stdin="import math\nr = 2")
    assert first.returncode == 0, first.stderr
    assert state.exists() and "session" in first.stderr and "math, r" in first.stderr
    second = codeact_cli("exec", "-", "--session", str(state), stdin="round(math.pi * r * r, 2)")
    assert second.returncode == 0 and second.stdout.strip() == "12.57", second.stderr


def test_a_failed_run_leaves_the_session_file_as_it_was(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    codeact_cli("exec", "-", "--session", str(state), stdin="x = 1")
    before = state.read_bytes()
    failed = codeact_cli("exec", "-", "--session", str(state), stdin="x = 2\n1 / 0")
    assert failed.returncode == 1 and "as before this call" in failed.stderr
    assert state.read_bytes() == before


def test_a_changed_session_file_is_refused_in_one_line(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    codeact_cli("exec", "-", "--session", str(state), stdin="x = 1")
    data = bytearray(state.read_bytes())
    data[-1] ^= 1
    state.write_bytes(bytes(data))
    refused = codeact_cli("exec", "-", "--session", str(state), stdin="x")
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"codeact: error: --session {state}: it failed its integrity check"
    )
    assert "delete it to start a new session" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr


def test_the_cli_key_is_private_to_the_user(tmp_path: Path) -> None:
    from codeact.cli.session_file import cli_key

    key = cli_key()
    assert len(key) == 32 and cli_key() == key
    if sys.platform != "win32":
        from codeact._paths import cache_dir

        assert (cache_dir("sessions") / "key").stat().st_mode & 0o077 == 0


def test_a_file_that_is_not_a_session_is_refused_and_kept(tmp_path: Path) -> None:
    mine = tmp_path / "notes.py"
    mine.write_text("print('my own file')\n")
    refused = codeact_cli("exec", "-", "--session", str(mine), stdin="x = 1")
    # was: "these bytes are not a codeact session state; pass the bytes of session.state"
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (
        f"codeact: error: --session {mine}: not a session file made by codeact exec --session; "
        "give a new FILE name to start a session\n"
    )
    assert mine.read_text() == "print('my own file')\n"


def test_a_file_too_large_to_be_a_session_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "dump.bin"
    with big.open("wb") as f:  # sparse: 18 MiB that take no disk
        f.truncate(18 * 2**20)
    refused = codeact_cli("exec", "-", "--session", str(big), stdin="x = 1", timeout=60)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (
        f"codeact: error: --session {big}: larger than a session's state may be (16 MiB); it "
        "is not a session file of codeact: choose another FILE\n"
    )
    assert big.stat().st_size == 18 * 2**20


def test_a_session_file_that_cannot_be_saved_is_refused_before_the_program_runs(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = blocker / "work.session"
    proc = codeact_cli("exec", "-", "--session", str(state), stdin="print('ran')\nx = 1")
    # was: the program ran, then "cannot write the session file ...": its state lost
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr == (
        f"codeact: error: --session {state}: its directory {blocker} is not a directory; "
        "create it or choose another FILE\n"
    )


def test_a_session_file_of_another_backend_names_the_flag(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    made = codeact_cli("exec", "-", "--backend", "wasm", "--session", str(state), stdin="x = 1")
    assert made.returncode == 0, made.stderr
    other = codeact_cli("exec", "-", "--backend", "jail", "--session", str(state), stdin="x")
    if "unavailable" in other.stderr:
        pytest.skip(other.stderr.strip())
    assert other.returncode == 2
    assert other.stderr == (
        f"codeact: error: --session {state} was saved with --backend wasm; run with --backend "
        "wasm, or give another FILE to start a new session\n"
    )


def test_an_empty_session_file_is_a_new_session(tmp_path: Path) -> None:
    state = tmp_path / "work.session"
    state.write_bytes(b"")  # `f=$(mktemp)`: the file exists, empty
    first = codeact_cli("exec", "-", "--session", str(state), stdin="r = 3")
    assert first.returncode == 0, first.stderr  # was: "not a session file", exit 2
    assert state.stat().st_size > 0
    second = codeact_cli("exec", "-", "--session", str(state), stdin="r * 2")
    assert second.returncode == 0 and second.stdout.strip() == "6", second.stderr
