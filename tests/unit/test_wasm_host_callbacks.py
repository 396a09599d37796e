"""The callbacks wasmtime makes into Python while a guest runs must never raise into C.

A Python exception escaping a ctypes callback leaves its C return value undefined: for the
epoch-deadline callback that value is taken as an error pointer and freed, and the whole
host process aborts ("free(): invalid size"). Each case runs in a child process, so that
the old behaviour fails the test instead of killing the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codeact.sandbox.registry import backend_availability

pytestmark = pytest.mark.skipif(
    not backend_availability("wasm").available, reason="the wasm backend cannot run here"
)

_PRELUDE = """
import json, sys
sys.path.insert(0, {root!r})
from tests.unit.wasm_runs import QuietHost, run_in_new_instance
from codeact.sandbox.wasm.runtime import WasmRuntime
from wasmtime import WasmtimeError

runtime = WasmRuntime.shared()
"""


def _run_child(body: str) -> subprocess.CompletedProcess[str]:
    root = str(Path(__file__).resolve().parents[2])
    script = _PRELUDE.format(root=root) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )


def test_a_time_check_that_raises_stops_the_run_not_the_process() -> None:
    result = _run_child(
        """
        class Broken(QuietHost):
            def check_time(self):
                raise KeyboardInterrupt("the check broke")

        host = Broken("null")
        busy = "import time\\nt = time.monotonic()\\nwhile time.monotonic() - t < 0.3: pass"
        runtime.ticker.acquire()  # the epoch moves only while the ticker runs
        try:
            run_in_new_instance(runtime, json.dumps({"code": busy, "tools": []}), host=host)
            print("ran to the end")
        except WasmtimeError as exc:
            print("trapped:", "time check failed" in str(exc))
        finally:
            runtime.ticker.release()
        print("told:", [type(e).__name__ for e in host.failures])
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trapped: True" in result.stdout, result.stdout
    assert "told: ['KeyboardInterrupt']" in result.stdout, result.stdout


def test_an_output_sink_that_raises_is_reported_not_printed() -> None:
    result = _run_child(
        """
        class Broken(QuietHost):
            def write_raw(self, stream, data):
                raise KeyboardInterrupt("the sink broke")

        host = Broken("null")
        code = "import os\\nos.write(1, b'raw bytes')\\nprint('after')"
        report, _ = run_in_new_instance(runtime, json.dumps({"code": code, "tools": []}), host=host)
        print("error:", report.get("error"))
        print("told:", [type(e).__name__ for e in host.failures])
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "told: ['KeyboardInterrupt']" in result.stdout, result.stdout
    assert "failed custom output" not in result.stdout + result.stderr
