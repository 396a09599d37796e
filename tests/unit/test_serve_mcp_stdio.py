"""`codeact serve-mcp` over stdio, started by a person on a terminal (a real pty, a real
process): it says what it waits for, and Ctrl-C ends it (it ran on until Ctrl-D before)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

pytestmark = [
    pytest.mark.usefixtures("wasm_ready"),
    pytest.mark.skipif(sys.platform == "win32", reason="needs a pty"),
]


def _read_all(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_ctrl_c_stops_serve_mcp_on_a_terminal() -> None:
    pytest.importorskip("mcp", reason="serve-mcp needs pip install -e '.[mcp]'")
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeact", "serve-mcp"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        # a terminal's Ctrl-C reaches a process that has SIGINT at its default; a suite run
        # in the background (nohup ... &) would pass SIG_IGN down to every child
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(follower)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"Ctrl-C stops it" not in seen and time.monotonic() < deadline:
            seen += _read_all(leader)
        assert b"serving MCP on stdin/stdout" in seen, seen
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        status = proc.wait(timeout=30)  # was: still serving, waiting for a line on stdin
        assert status == 130
        assert time.monotonic() - started < 15
        assert b"interrupted" in _read_all(leader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
