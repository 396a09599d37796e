"""Run the `codeact` CLI as a user does: a new process of this interpreter, `python -m codeact`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["interrupt_codeact", "run_codeact"]


def run_codeact(
    *args: str,
    stdin: str = "",
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    new_session: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`codeact ARGS` with `stdin` as its input, output captured as text. `new_session`: no
    controlling terminal, so nothing can fall back to asking on /dev/tty."""
    return subprocess.run(
        [sys.executable, "-m", "codeact", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env) if env is not None else dict(os.environ),
        cwd=cwd,
        start_new_session=new_session,
    )


def interrupt_codeact(
    *args: str, after_line: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> tuple[int, str, str]:
    """`codeact ARGS`, given Ctrl-C (SIGINT) once it has written a stderr line starting with
    `after_line` (or ended its stderr); its exit status, stdout and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeact", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else dict(os.environ),
        # Ctrl-C as a terminal delivers it (a background job, as CI may start us, ignores it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith(after_line) or not line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, "".join(seen) + err
