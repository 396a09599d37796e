"""A wasm pool warming an instance while the process exits stops quietly: the exit removed the
instance's /output under it (wasmtime: "Permission denied"), and the pool logged the failure
with a traceback on stderr after a CLI's last line (two CLI tests saw it in a full run)."""

from __future__ import annotations

import logging
import time

import pytest

from codeact.sandbox import artifacts
from codeact.sandbox.wasm.pool import InstancePool


def test_a_failure_while_the_process_exits_is_not_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def factory() -> object:
        calls.append(1)
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(artifacts, "_exiting", True)
    with caplog.at_level(logging.WARNING):
        pool = InstancePool(factory, 2)  # type: ignore[arg-type]
        try:
            deadline = time.monotonic() + 10
            while not calls and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            pool.close()
    assert calls == [1]  # tried once, then stopped: no retries, no log
    assert not [r for r in caplog.records if "pre-instantiate" in r.getMessage()]
