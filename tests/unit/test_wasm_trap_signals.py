"""A guest's fault must end its run, not the process, even after another library took over
the fault signals (Ray's ``ray.init()`` does, without passing them on to wasmtime)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codeact.sandbox.registry import backend_availability

pytestmark = pytest.mark.skipif(
    not backend_availability("wasm").available or sys.platform == "win32",
    reason="needs the wasm backend on a POSIX system",
)

# The guest's runtime aborts (wasm `unreachable`, SIGILL) on a string it cannot send; then
# the signals are taken over the way a later library does, and the same happens again.
_SCRIPT = r"""
import asyncio, signal
from codeact import CodeAct

ABORT = 'import sys\nsys.modules["wit_world.imports.tools"].dispatch("\\ud800")'

async def main():
    codeact = CodeAct(backend="wasm")
    first = await codeact.execute(ABORT)
    for name in ("SIGSEGV", "SIGILL", "SIGBUS", "SIGFPE"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    second = await codeact.execute(ABORT)
    after = await codeact.execute("1 + 1")
    print(first.error.type, second.error.type, after.value)

asyncio.run(main())
"""


def test_a_guest_fault_after_the_signals_were_taken_over_fails_only_its_run() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert proc.stdout.split() == ["SandboxError", "SandboxError", "2"]
    assert "codeact put them back" in proc.stderr
