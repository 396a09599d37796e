"""The runner's warm-up (every wasm instance's snapshot, every jail child) leaves nothing
running behind it in the interpreter the programs get."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import codeact

RUNTIME = Path(codeact.__file__).parent / "sandbox" / "guest" / "runtime"

CHECK = """
import os, sys
sys.path.insert(0, sys.argv[1])
import codeact_host, codeact_runner
codeact_runner.warm_up(session=True)  # saves and restores a session's state
codeact_runner.warm_up(rows=True)
os.write(2, f"hooked={codeact_host._hooked} trace={sys.gettrace()}\\n".encode())
"""


def test_the_warm_up_installs_no_audit_hook_and_no_tracer() -> None:
    # An audit hook cannot be removed: one installed by the warm-up's restore would be
    # called for every import, open and compile of every program after it.
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, str(RUNTIME)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "hooked=False trace=None" in proc.stderr, proc.stderr
