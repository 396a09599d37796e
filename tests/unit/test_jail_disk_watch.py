"""The jail's /output watch counts fully every quarter second, and at once when the filesystem
under /output lost more than the limit since its last count: a program held 3 GB behind
mappings between two counts (one statvfs is the cheap sign, read at every relay tick)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeact import OutputLimits
from codeact.sandbox.jail import disk_watch
from codeact.sandbox.jail.disk_watch import DiskWatch

SMALL = OutputLimits(max_files=1, max_file_bytes=1 << 20, max_total_bytes=1 << 20)  # 3 MiB


def test_a_filesystem_that_fills_brings_the_count_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = [1 << 30]
    monkeypatch.setattr(disk_watch, "_free", lambda path: free[0])
    watch = DiskWatch(str(tmp_path), SMALL)
    with open(tmp_path / "big.bin", "wb") as f:
        os.truncate(f.fileno(), 16 << 20)  # its size counts: 16 MiB against 3
    assert watch() is None  # the disk did not fall: the count waits for its period
    free[0] -= 2 << 20
    assert watch() is None  # less than the limit
    free[0] -= 2 << 20  # 4 MiB since the count began: past the 3 MiB limit
    stop = watch()
    assert stop is not None and stop.limit == "output_files"


def test_the_count_still_comes_every_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(disk_watch, "_free", lambda path: None)  # no statvfs here
    monkeypatch.setattr(disk_watch, "FULL_SECONDS", 0.0)
    watch = DiskWatch(str(tmp_path), SMALL)
    assert watch() is None
    (tmp_path / "big.bin").write_bytes(b"x" * (4 << 20))
    stop = watch()
    assert stop is not None and stop.limit == "output_files"
