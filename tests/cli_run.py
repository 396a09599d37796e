"""Run the `codeact` CLI as a user does: a new process of this interpreter, `python -m codeact`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_codeact"]


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
