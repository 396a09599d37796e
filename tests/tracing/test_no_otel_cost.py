"""Without OpenTelemetry in use, codeact imports none of it."""

from __future__ import annotations

import subprocess
import sys


def test_import_codeact_and_execute_load_no_opentelemetry_module() -> None:
    script = (
        "import sys, codeact\n"
        "c = codeact.CodeAct(backend=codeact.MockBackend(lambda code, call_tool: 1))\n"
        "c.execute_sync('1')\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "[]"
