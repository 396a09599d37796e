"""A jail child keeps only the descriptors it names (`confine.close_other_fds`), with the
kernel's close_range() and without it."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the jail is Linux only")

_CHILD = """
import os, sys
from codeact.sandbox.guest.jail import confine
if sys.argv[1] == "listing":
    confine._CLOSE_RANGE = None
opened = [os.open("/dev/null", os.O_RDONLY) for _ in range(6)]
high = os.dup2(opened[0], 900)
keep = {0, 1, 2, opened[2], opened[4], high}
confine.close_other_fds(keep)
left = set()
for fd in range(0, 2048):
    try:
        os.fstat(fd)
    except OSError:
        continue
    left.add(fd)
print(sorted(left) == sorted(keep), sorted(left), sorted(keep))
"""


@pytest.mark.parametrize("way", ["close_range", "listing"])
def test_only_the_named_descriptors_stay_open(way: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, way], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("True"), done.stdout
