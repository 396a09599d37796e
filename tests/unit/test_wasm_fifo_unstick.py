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

from .scandir_listed import Listed

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


def _fifo_with_reader(path: Path) -> tuple[threading.Event, threading.Thread]:
    os.mkfifo(path)
    opened = threading.Event()

    def reader() -> None:
        with open(path, "rb"):  # blocks until something opens the other end
            opened.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return opened, thread


def _release(path: Path, thread: threading.Thread) -> None:
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # ends the reader's wait, if still waiting
    os.close(fd)
    thread.join(5)


def test_a_folder_turned_into_a_link_while_walked_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A later run on the same read-write mount turns a folder the walk has listed (and
    # queued) into a link out of the mount: the walk must not list or open what it leads to.
    mount, outside = tmp_path / "mount", tmp_path / "outside"
    (mount / "d").mkdir(parents=True)
    outside.mkdir()
    opened, thread = _fifo_with_reader(outside / "trap")
    real = os.scandir
    calls = []

    def scandir(folder: object) -> object:
        calls.append(folder)
        listed = list(real(folder))  # type: ignore[call-overload]
        for entry in listed:
            entry.stat(follow_symlinks=False)  # as the walk saw it
        if len(calls) == 1:  # the mount's top, listed: now the program swaps its folder
            (mount / "d").rename(mount / "x")
            (mount / "d").symlink_to("../outside")
        return Listed(listed)

    monkeypatch.setattr(os, "scandir", scandir)
    try:
        assert open_fifos_under([str(mount)]) == 0
        monkeypatch.undo()
        assert not opened.wait(0.3)  # the host FIFO outside the mount was never opened
    finally:
        _release(outside / "trap", thread)


def test_a_granted_folder_that_is_now_a_link_is_not_walked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    opened, thread = _fifo_with_reader(outside / "trap")
    (tmp_path / "mount").symlink_to(outside)
    try:
        assert open_fifos_under([str(tmp_path / "mount")]) == 0
        assert not opened.wait(0.3)
    finally:
        _release(outside / "trap", thread)
