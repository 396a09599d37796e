"""Ctrl-C while the main thread is inside wasmtime (a runtime prepared there: the CLI's start,
a pool's first instance) waits until it is out: a KeyboardInterrupt raised at the first
bytecode of a host function or finalizer the guest calls back could not unwind through
wasmtime's C frames ("Exception ignored on calling ctypes callback function", then a made-up
return value: a SIGSEGV seen on Ctrl-C during `codeact exec`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends itself SIGINT")

STRESS = """
import os, random, signal, threading, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job inherits SIG_IGN
from codeact.sandbox.wasm.runtime import WasmRuntime

runtime = WasmRuntime.shared()
runtime.instantiate(warm=True).close()
interrupted = 0
for _ in range(200):
    try:
        timer = threading.Timer(random.uniform(0, 0.008), os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        prepared = runtime.instantiate(warm=True)  # a guest run and its host calls
        prepared.close()  # the store's finalizers
        time.sleep(0.012)
    except KeyboardInterrupt:
        interrupted += 1
print("interrupted", interrupted)
"""


def test_ctrl_c_inside_the_guest_on_the_main_thread_waits_until_it_is_out(
    wasm_ready: None,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", STRESS], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Exception ignored" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout.startswith("interrupted 200"), (proc.stdout, proc.stderr[-2000:])
