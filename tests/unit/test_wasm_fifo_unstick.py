"""A wasm run stopped while its thread is blocked opening a FIFO that the host put in a
granted folder gives that thread back: before, each such run kept its host thread (and the
instance it held) blocked for good."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from codeact import CodeAct, Limits, Mount
from codeact.sandbox.wasm.unstick import open_fifos_under

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")


def _guest_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("codeact-wasm-")]


def test_opening_the_fifos_frees_a_thread_blocked_opening_one(tmp_path: Path) -> None:
    fifo = tmp_path / "deep" / "fifo"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    opened = threading.Event()

    def reader() -> None:
        with open(fifo, "rb") as f:  # blocks until a writer opens the other end
            opened.set()
            f.read()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert not opened.wait(0.3)
    assert open_fifos_under([str(tmp_path)]) == 1
    assert opened.wait(5)
    thread.join(5)
    assert not thread.is_alive()


def test_a_run_stopped_while_opening_a_fifo_gives_its_thread_back(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    codeact = CodeAct(
        backend="wasm", file_mounts=[Mount(tmp_path, "/d")], limits=Limits(wall_time=1)
    )
    try:
        assert codeact.execute_sync("1").value == 1
        before = len(_guest_threads())
        for _ in range(4):
            result = codeact.execute_sync("open('/d/fifo').read()")
            assert not result.ok  # stopped at its wall time, or its read refused
        deadline = time.monotonic() + 15
        while len(_guest_threads()) > before + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_guest_threads()) <= before + 1, (before, _guest_threads())  # before: +4
        assert codeact.execute_sync("5").value == 5
    finally:
        codeact.close()
