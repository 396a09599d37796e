"""The per-process /output tree is removed at exit even while threads of ours still write
into it, and a clean exit prints nothing (a CLI's stderr is part of its contract)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from codeact.sandbox.artifacts import leftover_roots, remove_trees_of

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


KILLED = textwrap.dedent(
    """
    import os, signal
    from codeact.sandbox.artifacts import new_output_dir

    path = new_output_dir()
    open(os.path.join(path, "result.csv"), "w").write("a,b")
    print(os.path.dirname(path), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no exit handler runs
    """
)

SWEEPS = textwrap.dedent(
    """
    import sys, time
    from codeact.sandbox import artifacts
    from codeact.sandbox.cleanup import REMOVER

    artifacts.LEFTOVER_AGE = float(sys.argv[1])
    artifacts.new_output_dir()
    while REMOVER.pending():
        time.sleep(0.01)
    time.sleep(0.2)  # the remover takes the last one off the queue before removing it
    """
)


def test_a_killed_process_leaves_a_tree_the_next_one_removes_once_it_is_old(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED], capture_output=True, text=True, timeout=60, env=env
    )
    assert killed.returncode == -signal.SIGKILL
    left = Path(killed.stdout.strip())
    assert left.is_dir() and left.parent == tmp_path
    alive = tmp_path / f"codeact-output-{os.getpid()}-abc"  # a live process's tree: stays
    alive.mkdir()
    other = tmp_path / "codeact-output-notes"  # not a tree of ours by its name: stays
    other.mkdir()
    old = time.time() - 7200
    for path in (left, alive, other):
        os.utime(path, (old, old))

    def sweep(age: float) -> None:
        proc = subprocess.run(
            [sys.executable, "-c", SWEEPS, str(age)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr

    sweep(age=3 * 3600)  # changed less than the age ago: may belong to a live process
    assert left.is_dir()
    sweep(age=3600)
    assert not left.exists()
    assert alive.is_dir() and other.is_dir()
    assert leftover_roots(str(tmp_path)) == []


def test_the_trees_of_a_process_known_dead_are_removed_at_once(tmp_path: Path) -> None:
    # A pool's replacement actor removes what the killed actor left, without waiting an hour.
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid = int(dead.stdout)
    left = tmp_path / f"codeact-output-{pid}-abc"
    (left / "tmp1" / "deep").mkdir(parents=True)
    (left / "tmp1" / "x.txt").write_text("x")
    mine = tmp_path / f"codeact-output-{os.getpid()}-abc"  # a live process's: stays
    mine.mkdir()
    other = tmp_path / f"codeact-output-{pid}0-abc"  # another pid's: stays
    other.mkdir()
    assert remove_trees_of(pid, str(tmp_path)) == [str(left)]
    assert not left.exists() and mine.is_dir() and other.is_dir()
    assert remove_trees_of(os.getpid(), str(tmp_path)) == []
    assert mine.is_dir()
