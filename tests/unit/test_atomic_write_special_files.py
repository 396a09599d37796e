"""A file the host writes whole (bench --json, a session file, the compiled guest) never
replaces a device, FIFO or socket at its path: as root, `codeact bench order-totals --json
/dev/full` replaced the system's /dev/full with a regular file."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from codeact._paths import atomic_write

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")


@pytest.mark.parametrize("follow_links", [True, False])
def test_a_fifo_is_not_replaced(tmp_path: Path, follow_links: bool) -> None:
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    with pytest.raises(FileExistsError, match="not a regular file"):
        atomic_write(fifo, b"{}", follow_links=follow_links)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left


def test_a_link_to_a_special_file_is_not_followed_into_replacing_it(tmp_path: Path) -> None:
    """Through a link (followed by default) as well. A FIFO of the test's own stands for the
    device: a test aimed at /dev/null would replace the machine's /dev/null on code with the
    bug (it did, once, when this test was first checked against that code)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "out.json"
    link.symlink_to(fifo)
    with pytest.raises(FileExistsError, match="not a regular file"):
        atomic_write(link, b"{}")
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()


def test_a_regular_file_and_a_new_one_are_written(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("old")
    atomic_write(tmp_path / "old.json", b"new")
    atomic_write(tmp_path / "fresh.json", b"fresh")
    assert (tmp_path / "old.json").read_bytes() == b"new"
    assert (tmp_path / "fresh.json").read_bytes() == b"fresh"


def test_the_cli_refuses_such_a_json_path_before_it_runs(tmp_path: Path) -> None:
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    proc = codeact_cli("bench", "sandbox", "--runs", "5", "--json", str(fifo))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"codeact: error: --json: {fifo} exists and is not a regular file (a device, FIFO or "
        "socket); name a file\n"
    )
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
