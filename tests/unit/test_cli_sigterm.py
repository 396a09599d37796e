"""SIGTERM (`timeout`, `docker stop`, a supervisor) ends the CLI with status 143 after the same
clean-up as any exit: its default action ended the process at once, and every sandbox's host
directory (its /output, with what the program wrote) stayed in the temp directory for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeact.cli import TERM_GRACE_S

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python makes it KeyboardInterrupt
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _start(args: list[str], tmp_path: Path, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "codeact", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        # SIGTERM at its default, as a supervisor starts us (a suite run in the background
        # may pass an ignored signal down)
        preexec_fn=_default_signals,
    )


@pytest.mark.parametrize(
    ("backend", "signum"),
    [("wasm", signal.SIGTERM), ("jail", signal.SIGTERM), ("wasm", signal.SIGHUP)],
)
def test_sigterm_during_a_program_exits_143_and_leaves_nothing_behind(
    backend: str, signum: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from codeact.sandbox.registry import backend_availability

    availability = backend_availability(backend)
    if not availability.available:
        pytest.skip(f"{backend}: {availability.reason}")
    if backend == "wasm":
        request.getfixturevalue("wasm_ready")
    program = tmp_path / "prog.py"
    program.write_text(
        "open('/output/partial.csv', 'w').write('a,b')\n"
        "print('started', flush=True)\nimport time\ntime.sleep(60)\n"
    )
    proc = _start(["exec", "--backend", backend, str(program)], tmp_path)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        trees = list(tmp_path.glob("codeact-output-*"))
        assert trees, "the run has its host directory"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    assert err.strip().endswith("codeact: terminated"), err
    assert list(tmp_path.glob("codeact-output-*")) == []


def test_sigterm_ends_serve_mcp_blocked_on_its_stdin(tmp_path: Path) -> None:
    pytest.importorskip("mcp", reason="serve-mcp needs pip install -e '.[mcp]'")
    read, write = os.pipe()  # a client that stays connected and says nothing
    try:
        proc = _start(["serve-mcp"], tmp_path, stdin=read)
        try:
            time.sleep(3)  # serving
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, err = proc.communicate(timeout=30)
            took = time.monotonic() - started
        finally:
            proc.kill()
    finally:
        os.close(read)
        os.close(write)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "codeact: terminated" in err
    assert took < TERM_GRACE_S + 10


STUBBORN_TOOL = '''
import asyncio, pathlib
from codeact import tool

@tool
async def stubborn(marker: str) -> int:
    """Wait, ignoring cancellation."""
    pathlib.Path(marker).write_text("in the tool")
    while True:
        try:
            await asyncio.sleep(1000)
        except asyncio.CancelledError:
            pass
'''


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize(
    ("signum", "line"),
    [(signal.SIGINT, "codeact: interrupted"), (signal.SIGTERM, "codeact: terminated")],
)
def test_a_signal_during_an_async_tool_that_ignores_cancellation_says_one_line(
    signum: int, line: str, tmp_path: Path
) -> None:
    """Was: Ctrl-C printed "Task was destroyed but it is pending!" and a traceback ending in
    `ToolRaised: GeneratorExit` after its line; SIGTERM exited 143 without its line (the
    loop's wait for the tool outlasted TERM_GRACE_S)."""
    tools = tmp_path / "tools.py"
    tools.write_text(STUBBORN_TOOL)
    marker = tmp_path / "marker"
    program = tmp_path / "prog.py"
    program.write_text(f"stubborn(marker={str(marker)!r})\n")
    args = ["exec", "--backend", "wasm", "--tools", str(tools), str(program)]
    proc = _start(args, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():  # the program waits in the tool
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    assert err.strip() == line, err
