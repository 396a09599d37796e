"""A process that forks after using a sandbox (multiprocessing's "fork" start method, a server
forking its workers): the child runs programs with sandboxes of its own, and the parent's
keep working, whichever way the child exits.

One limit stays on wasm: wasmtime's threads for WASI file I/O, once started in the parent
by a program that opened a file, are not in the child, and there a program's file I/O waits
until its wall time. The parent here runs programs without files before forking; the child
is told (a warning) how to avoid the limit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codeact.sandbox.registry import backend_availability

_SCRIPT = r"""
import asyncio, os, sys
from codeact import CodeAct, Limits, tool

@tool
def double(x: int) -> int:
    "Twice x."
    return 2 * x

BACKEND, EXIT = sys.argv[1], sys.argv[2]
codeact = CodeAct(tools=[double], backend=BACKEND, limits=Limits(wall_time=2))

async def check(label, with_files=True):
    plain = await codeact.execute("print(double(x=21))")
    code = "open('/output/a.txt', 'w').write('hi')\n1" if with_files else "1"
    files = await codeact.execute(code)
    loop = await codeact.execute("while True:\n    pass")
    got = [plain.stdout.strip(), len(files.files) if with_files else 1,
           loop.error.limit if loop.error else None]
    print(label, *got, flush=True)

asyncio.run(check("before", with_files=BACKEND != "wasm"))
pid = os.fork()
if pid == 0:
    import signal
    signal.alarm(60)  # never hang the test
    asyncio.run(check("child"))
    if EXIT == "exit":
        sys.exit(0)  # atexit handlers run: the parent's output tree must stay
    os._exit(0)
os.waitpid(pid, 0)
asyncio.run(check("after"))
"""


def _backends() -> list[str]:
    return [name for name in ("wasm", "jail") if backend_availability(name).available]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork (POSIX)")
@pytest.mark.parametrize("exit_how", ["exit", "_exit"])
@pytest.mark.parametrize("backend", ["wasm", "jail"])
def test_a_forked_child_and_its_parent_both_run_programs(backend: str, exit_how: str) -> None:
    if backend not in _backends():
        pytest.skip(f"{backend}: {backend_availability(backend).reason}")
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, backend, exit_how],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert lines == [[who, "42", "1", "wall_time"] for who in ("before", "child", "after")], (
        proc.stdout,
        proc.stderr[-2000:],
    )
    if backend == "wasm":  # the parent had run programs: the child is told what to avoid
        assert "'spawn' or 'forkserver'" in proc.stderr


_SYNC_SCRIPT = """
import os, signal, sys
from codeact import CodeAct
codeact = CodeAct(backend=sys.argv[1])
session = codeact.session()
print("before", codeact.execute_sync("2 * 2").value, session.execute_sync("2 * 3").value)
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    signal.alarm(60)  # the parent's sync loop thread is not in the child: it hung here
    print("child", codeact.execute_sync("2 * 2").value, session.execute_sync("2 * 3").value)
    sys.stdout.flush()
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("status", status)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork (POSIX)")
@pytest.mark.parametrize("backend", ["wasm", "jail"])
def test_the_sync_api_works_in_a_child_forked_after_it_was_used(backend: str) -> None:
    if backend not in _backends():
        pytest.skip(f"{backend}: {backend_availability(backend).reason}")
    proc = subprocess.run(
        [sys.executable, "-c", _SYNC_SCRIPT, backend], capture_output=True, text=True, timeout=240
    )
    assert proc.stdout.split("\n")[:3] == ["before 4 6", "child 4 6", "status 0"], proc.stderr
