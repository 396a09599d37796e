"""Collecting /output on the host: regular files only, nothing followed, within the limits."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from codeact import OutputFile, OutputLimits
from codeact.sandbox.artifacts import (
    collect_outputs,
    disk_usage,
    new_output_dir,
    remove_output_dir,
)


def test_files_come_back_sorted_with_media_types(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "report.csv").write_text("a,b\n1,2\n")
    (tmp_path / "plots" / "chart.png").write_bytes(b"\x89PNG")
    (tmp_path / "notes").write_bytes(b"\x00\x01")
    files, skipped = collect_outputs(str(tmp_path), OutputLimits())
    assert [(f.path, f.media_type, f.data) for f in files] == [
        ("notes", "application/octet-stream", b"\x00\x01"),
        ("plots/chart.png", "image/png", b"\x89PNG"),
        ("report.csv", "text/csv", b"a,b\n1,2\n"),
    ]
    assert skipped == []
    assert files[2].to_dict() == {
        "path": "report.csv",
        "media_type": "text/csv",
        "size": 8,
        "sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
    }


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    out = tmp_path / "out"
    out.mkdir()
    (out / "leak").symlink_to(secret)
    (out / "dirleak").symlink_to(tmp_path)
    (out / "ok.txt").write_text("fine")
    files, skipped = collect_outputs(str(out), OutputLimits())
    assert [f.path for f in files] == ["ok.txt"]
    assert all(b"host secret" not in f.data for f in files)
    assert sorted(skipped) == ["dirleak: a symlink, not returned", "leak: a symlink, not returned"]


def test_limits_skip_files_and_say_why(tmp_path: Path) -> None:
    for name, size in (("a", 10), ("b", 500), ("c", 10), ("d", 10), ("e", 10)):
        (tmp_path / name).write_bytes(b"x" * size)
    limits = OutputLimits(max_files=3, max_file_bytes=100, max_total_bytes=25)
    files, skipped = collect_outputs(str(tmp_path), limits)
    assert [f.path for f in files] == ["a", "c"]
    assert skipped == [
        "b: 500 bytes, over OutputLimits.max_file_bytes=100",
        "d: would pass OutputLimits.max_total_bytes=25",
        "e: would pass OutputLimits.max_total_bytes=25",
    ]
    files, skipped = collect_outputs(str(tmp_path), OutputLimits(max_files=2))
    assert [f.path for f in files] == ["a", "b"]
    assert skipped[0] == "c: over OutputLimits.max_files=2"


def test_a_sparse_giant_is_skipped_by_its_size_without_reading_it(tmp_path: Path) -> None:
    with (tmp_path / "huge.bin").open("wb") as f:
        f.truncate(1 << 40)
    files, skipped = collect_outputs(str(tmp_path), OutputLimits())
    assert files == [] and skipped[0].startswith("huge.bin: 1099511627776 bytes, over")
    size, entries = disk_usage(str(tmp_path), max_entries=100)
    assert (size, entries) == (1 << 40, 1)


def test_disk_usage_counts_nested_entries_and_stops_early(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for i in range(5):
        (tmp_path / "d" / str(i)).write_bytes(b"x" * 10)
    assert disk_usage(str(tmp_path), max_entries=100)[1] == 6
    assert disk_usage(str(tmp_path), max_entries=2)[1] <= 7


def test_output_dirs_are_fresh_and_removed() -> None:
    first, second = new_output_dir(), new_output_dir()
    assert first != second and os.listdir(first) == []
    Path(first, "x").write_text("x")
    remove_output_dir(first)
    assert not Path(first).exists()
    Path(second, "sub").mkdir()
    Path(second, "sub", "f").write_text("x")
    remove_output_dir(second)
    assert not Path(second).exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_special_files_are_not_returned(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    files, skipped = collect_outputs(str(tmp_path), OutputLimits())
    assert files == [] and skipped == ["pipe: not a regular file, not returned"]


def test_a_fifo_swapped_in_after_the_walk_never_blocks_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread of the program may still run while its /output is read (a kill is not
    instant): a file it replaces with a FIFO after the walk must not block the read."""
    import threading

    from codeact.sandbox import artifacts

    (tmp_path / "data.txt").write_text("x")
    walked = artifacts._walk(str(tmp_path), [], 100)
    (tmp_path / "data.txt").unlink()
    os.mkfifo(tmp_path / "data.txt")
    monkeypatch.setattr(artifacts, "_walk", lambda *args: walked)
    done: list[tuple[list[OutputFile], list[str]]] = []
    reader = threading.Thread(
        target=lambda: done.append(collect_outputs(str(tmp_path), OutputLimits())), daemon=True
    )
    reader.start()
    reader.join(timeout=5)
    if not done:  # unblock the reader so it does not outlive the test
        os.close(os.open(tmp_path / "data.txt", os.O_WRONLY | os.O_NONBLOCK))
    assert done, "reading /output blocked on a FIFO"
    files, skipped = done[0]
    assert files == [] and skipped == ["data.txt: could not be read safely, not returned"]


def test_a_folder_swapped_for_a_link_after_the_walk_is_never_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race one level up: /output/d was a folder when walked and is a link to a
    host folder when read. Neither the read nor a listing may go through the link."""
    from codeact.sandbox import artifacts

    host = tmp_path / "host"
    host.mkdir()
    (host / "secret.txt").write_text("host secret")
    out = tmp_path / "out"
    (out / "d").mkdir(parents=True)
    (out / "d" / "secret.txt").write_text("decoy")
    walked = artifacts._walk(str(out), [], 100)
    (out / "d" / "secret.txt").unlink()
    (out / "d").rmdir()
    (out / "d").symlink_to(host)
    monkeypatch.setattr(artifacts, "_walk", lambda *args: walked)
    files, skipped = collect_outputs(str(out), OutputLimits())
    assert files == [] and skipped == ["d/secret.txt: could not be read safely, not returned"]
    monkeypatch.undo()
    from codeact.sandbox.output_walk import walk_entries

    assert [rel for rel, _ in walk_entries(str(out), strict=True)] == ["d"]  # not below it


def test_disk_usage_counts_disk_preallocated_behind_a_small_size(tmp_path: Path) -> None:
    """fallocate(FALLOC_FL_KEEP_SIZE) holds disk behind a file of size 0: the watch counts
    the disk a file holds where it is more than its size."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    fd = os.open(tmp_path / "pre.bin", os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        if libc.fallocate(fd, 1, 0, 8 << 20) != 0:  # FALLOC_FL_KEEP_SIZE
            pytest.skip(f"no preallocation here: {os.strerror(ctypes.get_errno())}")
        assert os.fstat(fd).st_size == 0
    finally:
        os.close(fd)
    assert disk_usage(str(tmp_path), max_entries=100)[0] >= 8 << 20


def _deep(root: Path, levels: int, name: str) -> int:
    """Folders `levels` deep under `root` (made by descriptor: the host path may pass
    PATH_MAX), a 1 MiB file at the bottom; the bottom's depth."""
    root.mkdir(exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    out = os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
    os.write(out, b"x" * 2**20)
    os.close(out)
    os.close(fd)
    return levels


def test_disk_usage_counts_a_tree_nested_past_path_max(tmp_path: Path) -> None:
    # 22 folders of 200 characters: the files at the bottom lie past PATH_MAX (4096), where
    # walking by path could not list them and a program wrote there without limit.
    _deep(tmp_path / "t", 22, "d" * 200)
    try:
        size, entries = disk_usage(str(tmp_path / "t"), max_entries=1000)
        assert entries == 23
        assert size >= 2**20
    finally:
        shutil.rmtree(tmp_path / "t")  # by descriptor: pytest's own clean-up goes by path


def test_disk_usage_counts_a_tree_nested_too_deep_as_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeact.sandbox import output_walk

    monkeypatch.setattr(output_walk, "MAX_DEPTH", 40)
    monkeypatch.setattr(output_walk, "_HELD", 8)  # deeper folders are opened from the 8th
    _deep(tmp_path / "a", 30, "d")
    size, entries = disk_usage(str(tmp_path / "a"), max_entries=10_000)
    assert entries == 31 and size >= 2**20
    _deep(tmp_path / "b", 45, "d")
    assert disk_usage(str(tmp_path / "b"), max_entries=10_000)[1] > 10_000


def test_a_deep_tree_is_collected_past_the_held_descriptors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below the folders that keep a descriptor, folders are opened again from the deepest
    held one: the files there are still found, counted and read."""
    from codeact.sandbox import output_walk

    monkeypatch.setattr(output_walk, "_HELD", 4)
    _deep(tmp_path / "o", 12, "d")
    (tmp_path / "o" / "d" / "top.txt").write_text("top")
    files, skipped = collect_outputs(str(tmp_path / "o"), OutputLimits())
    assert skipped == []
    assert [f.path for f in files] == ["d/" * 12 + "f", "d/top.txt"]
    assert files[0].data == b"x" * 2**20
    assert disk_usage(str(tmp_path / "o"), max_entries=100)[1] == 14
