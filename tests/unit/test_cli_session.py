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
    assert refused.stderr.startswith("codeact: error: the session state failed its integrity")
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr


def test_the_cli_key_is_private_to_the_user(tmp_path: Path) -> None:
    from codeact.cli.session_file import cli_key

    key = cli_key()
    assert len(key) == 32 and cli_key() == key
    if sys.platform != "win32":
        from codeact._paths import cache_dir

        assert (cache_dir("sessions") / "key").stat().st_mode & 0o077 == 0
