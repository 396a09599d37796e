"""`output_walk.held_open`: the disk a process holds under a folder through files no name there
shows (removed, or never named: O_TMPFILE), by a descriptor or by a memory mapping alone, read
from /proc. Linux only; the process here is a plain child of the test, no sandbox."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeact.sandbox.output_walk import held_open

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/maps").exists(), reason="held files are read from Linux's /proc"
)

MIB = 1 << 20

# Three files of 4, 5 and 6 MiB under the folder: one kept by a descriptor, one mapped and its
# descriptor closed (one page keeps the whole file), one named, mapped and removed. With
# `leader_exits` the main thread ends (the raw exit, not exit_group) and a thread holds on.
_HOLDER = """
import ctypes, mmap, os, sys, threading, time
folder, leader_exits = sys.argv[1], sys.argv[2] == "1"
kept = os.open(folder, os.O_RDWR | os.O_TMPFILE, 0o600)
os.posix_fallocate(kept, 0, 4 << 20)
fd = os.open(folder, os.O_RDWR | os.O_TMPFILE, 0o600)
os.posix_fallocate(fd, 0, 5 << 20)
maps = [mmap.mmap(fd, 4096)]
named = os.path.join(folder, "named")
fd2 = os.open(named, os.O_RDWR | os.O_CREAT, 0o600)
os.posix_fallocate(fd2, 0, 6 << 20)
maps.append(mmap.mmap(fd2, 4096))
os.unlink(named)
for each in (fd, fd2):
    ino = os.fstat(each).st_ino
    for cand in range(3, 256):  # mmap.mmap dup()s the descriptor: close its copy too
        try:
            if cand != kept and os.fstat(cand).st_ino == ino:
                os.close(cand)
        except OSError:
            pass
threading.Thread(target=time.sleep, args=(60,)).start()
print("ready", flush=True)
if leader_exits:
    ctypes.CDLL(None).syscall(60 if os.uname().machine == "x86_64" else 93, 0)
time.sleep(60)
"""


@pytest.mark.parametrize("leader_exits", [False, True], ids=["running", "leader-exited"])
def test_files_held_by_a_descriptor_or_a_mapping_count(tmp_path: Path, leader_exits: bool) -> None:
    """Before, only the leader's descriptors counted: 4 MiB of the 15 held (0 once the main
    thread had ended), and a program held 3 GB behind mappings against a 74 MiB limit."""
    folder = tmp_path / "output"
    folder.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder), "1" if leader_exits else "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        if leader_exits:  # wait for the leader to be gone
            for _ in range(200):
                if "Z" in Path(f"/proc/{proc.pid}/task/{proc.pid}/stat").read_text().split()[2]:
                    break
                time.sleep(0.01)
        held = held_open(proc.pid, str(folder))
        assert held >= 15 * MIB, held
        assert held_open(proc.pid, str(tmp_path / "elsewhere")) == 0
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert held_open(proc.pid, str(folder)) == 0  # gone: nothing held
