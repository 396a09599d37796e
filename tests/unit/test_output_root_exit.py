"""The per-process /output tree is removed at exit even while threads of ours still write
into it, and a clean exit prints nothing (a CLI's stderr is part of its contract)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import os, sys, threading
    from codeact.sandbox.artifacts import OutputsClosedError, new_output_dir

    first = new_output_dir()
    print(os.path.dirname(first), flush=True)
    started = threading.Event()

    def keep_writing():  # what a pool warming instances does while the process exits
        while True:
            try:
                path = new_output_dir()
            except OutputsClosedError:
                return
            try:
                for i in range(20):
                    with open(os.path.join(path, f"f{i}"), "w") as f:
                        f.write("x")
                os.makedirs(os.path.join(path, "a", "b"), exist_ok=True)
            except FileNotFoundError:  # the exit's removal took the directory away
                return
            started.set()

    threading.Thread(target=keep_writing, daemon=True).start()
    started.wait()
    sys.exit(0)
    """
)


def test_exit_removes_the_tree_a_thread_still_writes_into() -> None:
    for _ in range(5):  # a race: several tries make a regression show
        proc = subprocess.run(
            [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        root = Path(proc.stdout.strip())
        assert root.name.startswith("codeact-output-")
        assert not root.exists()
