"""The wasm engine's allocator choice: the pool only where its address space can be had."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from codeact.sandbox.registry import backend_availability

pytestmark = pytest.mark.skipif(
    not backend_availability("wasm").available or not sys.platform.startswith("linux"),
    reason="needs the wasm backend on Linux",
)

_PROBE = (
    "from codeact.sandbox.wasm.engine import make_engine, pooling_possible\n"
    "make_engine()\n"
    "print(pooling_possible())\n"
)


def _limit_address_space() -> None:
    limit = 64 << 30  # far below the pool's reservation, far above what the engine needs
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_limited_address_space_gets_the_default_allocator_not_an_abort() -> None:
    # wasmtime's C API aborts the process when the pool cannot be reserved: the choice
    # must be made before asking for it.
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        preexec_fn=_limit_address_space,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def test_unlimited_address_space_uses_the_pool() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY
    assert proc.stdout.strip() == str(expected)
