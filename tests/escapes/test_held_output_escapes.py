"""Disk under /output that no name there shows, held by a memory mapping alone: the file never
had a name (O_TMPFILE) or was removed, and every descriptor of it is closed; one mapped page
keeps the whole file. The /output watch must count it (a program held 3 GB this way against a
74 MiB limit, to its wall time). Jail-only: the other backends cannot map a file."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import Limits, OutputLimits

# disk_bytes = 2 * 1 MiB + 1 MiB = 3 MiB; RLIMIT_FSIZE twice that: each file stays under it.
SMALL = OutputLimits(max_files=1, max_file_bytes=1 << 20, max_total_bytes=1 << 20)

MAPPED = """
import os, mmap, time
maps = []
for i in range(6):  # 4 MiB each: 24 MiB held against the watch's 3 MiB
    if "@HOW@" == "tmpfile":
        fd = os.open("/output", os.O_RDWR | os.O_TMPFILE, 0o600)
    else:
        fd = os.open(f"/output/f{i}", os.O_RDWR | os.O_CREAT, 0o600)
        os.unlink(f"/output/f{i}")
    os.ftruncate(fd, 4096)
    maps.append(mmap.mmap(fd, 4096))
    os.posix_fallocate(fd, 0, 4 << 20)
    ino = os.fstat(fd).st_ino
    os.close(fd)
    for cand in range(3, 256):  # mmap.mmap dup()s the descriptor: close its copy too
        try:
            if os.fstat(cand).st_ino == ino:
                os.close(cand)
        except OSError:
            pass
time.sleep(3)  # many periods of the watch
print("still running")
"""


@pytest.mark.parametrize("how", ["tmpfile", "removed"])
async def test_a_file_held_only_by_a_mapping_counts(
    attempt: Any, backend_name: str, how: str
) -> None:
    if backend_name != "jail":
        pytest.skip(f"{backend_name} cannot map a file: nothing holds one but a descriptor")
    result = await attempt(
        MAPPED.replace("@HOW@", how), output_limits=SMALL, limits=Limits(wall_time=20)
    )
    assert result.error is not None and result.error.limit == "output_files", (
        result.stdout,
        result.error,
    )
    assert "still running" not in result.stdout
