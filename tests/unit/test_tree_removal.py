"""Removing what a program left under /output, and the wasm pool thread that does it, cannot
be stopped by the shape of the tree: depth past the recursion limit and PATH_MAX, links to
host files, modes taken away."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from codeact.sandbox.artifacts import remove_output_dir
from codeact.sandbox.cleanup import remove_tree

from .scandir_listed import Listed


def _deep(root: Path, depth: int, name: str = "d") -> None:
    """`depth` nested directories under root, made relative to each level (no long paths)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with open(os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
            f.write("x")
    finally:
        os.close(fd)


def test_tree_deeper_than_the_recursion_limit_is_removed(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    _deep(root, sys.getrecursionlimit() + 200)
    assert remove_tree(str(root)) is True
    assert not root.exists()


def test_tree_whose_paths_pass_path_max_is_removed(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    _deep(root, 40, name="n" * 200)  # about 8,000 characters deep: past PATH_MAX (4096)
    remove_output_dir(str(root))
    assert not root.exists()


def test_links_are_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep")
    root = tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    (root / "to_dir").symlink_to(outside)
    (root / "sub" / "to_file").symlink_to(outside / "secret.txt")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    assert remove_tree(str(root)) is True
    assert not root.exists()
    assert (outside / "secret.txt").read_text() == "keep"


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX modes")
def test_directories_made_unreadable_and_unwritable_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "out"
    locked = root / "a" / "locked"
    locked.mkdir(parents=True)
    (locked / "f.txt").write_text("x")
    (locked / "inner").mkdir()
    locked.chmod(0)
    (root / "a").chmod(0o500)
    root.chmod(0o500)
    assert remove_tree(str(root)) is True
    assert not root.exists()


def test_removal_never_raises_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert remove_tree(str(tmp_path / "missing")) is True
    file = tmp_path / "plain.txt"
    file.write_text("x")
    assert remove_tree(str(file)) is True and not file.exists()


class _Instance:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.closed = False
        self.output_dir: str | None = None

    def close(self) -> None:
        self.closed = True
        if self.fail:
            raise RecursionError("maximum recursion depth exceeded")


def test_pool_keeps_freeing_after_a_free_fails() -> None:
    from codeact.sandbox.wasm.pool import InstancePool

    pool = InstancePool(lambda: _Instance(False), 1)  # type: ignore[arg-type, return-value]
    try:
        bad, good = _Instance(True), _Instance(False)
        pool.discard(bad)  # type: ignore[arg-type]
        _wait(lambda: bad.closed)
        pool.discard(good)  # type: ignore[arg-type]
        _wait(lambda: good.closed)
        assert pool._thread is not None and pool._thread.is_alive()
    finally:
        pool.close()


def test_pool_thread_is_restarted_if_it_ends() -> None:
    from codeact.sandbox.wasm.pool import InstancePool

    pool = InstancePool(lambda: _Instance(False), 1)  # type: ignore[arg-type, return-value]
    try:
        thread = pool._thread
        assert thread is not None
        # Simulate the thread dying from something nobody foresaw.
        pool._fill = lambda: (_ for _ in ()).throw(SystemExit)  # type: ignore[method-assign]
        pool._wake.set()
        thread.join(5)
        pool._thread = threading.Thread(target=pool._serve)
        pool._thread.start()
        pool._thread.join(5)
        assert not pool._thread.is_alive()
        del pool._fill  # the real loop again
        used = _Instance(False)
        pool.discard(used)  # type: ignore[arg-type]
        _wait(lambda: used.closed)
        assert pool._thread.is_alive()
    finally:
        pool.close()


def _wait(done: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the pool did not free the instance"
        time.sleep(0.01)


def test_the_remover_takes_trees_off_the_freeing_thread(tmp_path: Path) -> None:
    from codeact.sandbox.cleanup import TreeRemover

    remover = TreeRemover("test-remover")
    trees = []
    for n in range(3):
        root = tmp_path / f"out{n}"
        root.mkdir()
        _deep(root, 50)
        trees.append(root)
        remover.remove_later(str(root))
    _wait(lambda: not any(t.exists() for t in trees), timeout=30)


@pytest.mark.skipif(sys.platform == "win32", reason="links need privileges on Windows")
@pytest.mark.parametrize("depth", [1, 2])
def test_a_folder_turned_into_a_link_while_removed_leads_nowhere_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    # A writer still at work in the tree (a dying thread of the program) turns a folder the
    # removal has listed into a link to a host folder: nothing there may be deleted.
    root, outside = tmp_path / "output", tmp_path / "outside"
    folder = root.joinpath(*["d"] * depth)
    folder.mkdir(parents=True)
    (folder / "f.txt").write_text("x")
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me")
    real = os.scandir
    calls = []

    def scandir(path: object) -> object:
        calls.append(path)
        listed = list(real(path))  # type: ignore[call-overload]
        for entry in listed:
            entry.is_dir(follow_symlinks=False)  # as the removal saw it
        if len(calls) == depth:  # the folder above `folder` is listed: swap `folder`
            aside = folder.with_name("moved")
            folder.rename(aside)
            folder.symlink_to(outside)
        return Listed(listed)

    monkeypatch.setattr(os, "scandir", scandir)
    remove_tree(str(root))
    monkeypatch.undo()
    assert (outside / "victim.txt").read_text() == "keep me"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
