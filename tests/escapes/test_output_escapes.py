"""A tree under /output shaped to break its removal: nested far past Python's recursion
limit, with links to host directories and modes taken away. The host removes it without
following anything, the execution returns a result, and the sandboxes after it keep working
and keep having their own /output removed. On every backend."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeact import Limits, OutputLimits
from codeact.sandbox import artifacts

DEPTH = 1200  # past sys.getrecursionlimit() (1000): shutil.rmtree recursed past it

DEEP_TREE = f"""
import asyncio
import os
p = "/output"
for i in range({DEPTH}):
    p += "/d"
    os.mkdir(p)
open(p + "/leaf.txt", "w").write("deep")
for target, name in (("@CANARY_DIR@", "host_dir"), ("@CANARY_FILE@", "host_file")):
    try:
        os.symlink(target, "/output/d/" + name)
    except OSError:
        pass
for path in ("/output/d/d", "/output/d"):
    try:
        os.chmod(path, 0o500)
    except OSError:
        pass
"made"
"""

ORDINARY = """
open("/output/ordinary_{n}.txt", "w").write("run {n}")
{n}
"""


def _leftovers() -> list[str]:
    """Trees of ours still under the output root (the hostile one, or an ordinary run's)."""
    root = artifacts._root
    if root is None or not Path(root).is_dir():
        return []
    found = []
    for run_dir in os.scandir(root):
        try:
            names = os.listdir(run_dir.path)
        except OSError:
            continue
        found += [
            f"{run_dir.name}/{name}"
            for name in names
            if name == "d" or name.startswith((".codeact-rm-", "ordinary_"))
        ]
    return found


async def test_a_tree_deeper_than_the_recursion_limit_does_not_break_cleanup(
    attempt: Callable[..., Any], make_codeact: Callable[..., Any]
) -> None:
    limits = Limits(wall_time=60, memory_mb=128, output_bytes=64 * 1024)
    outputs = OutputLimits(max_files=1000)  # room for the tree on disk (10x max_files entries)
    result = await attempt(DEEP_TREE, limits=limits, output_limits=outputs)
    assert result.ok and result.value == "made", result.error
    assert [f.data for f in result.files] == [b"deep"]
    assert result.files[0].path == "d/" * DEPTH + "leaf.txt"
    codeact = make_codeact()
    for n in range(5):
        ordinary = await codeact.execute(ORDINARY.format(n=n))
        assert ordinary.ok and ordinary.value == n, ordinary.error
        assert [f.path for f in ordinary.files] == [f"ordinary_{n}.txt"]
    for _ in range(200):  # the wasm pool removes used trees off the caller's path
        if not _leftovers():
            break
        await asyncio.sleep(0.1)
    assert _leftovers() == []
