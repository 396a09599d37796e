"""What a jail child does with what the zygote prepared: it keeps only the descriptors it names
(`confine.close_other_fds`), with the kernel's close_range() and without it, and makes its
Landlock ruleset from rules encoded once (`landlock.ReadRules`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


_RULES = """
import os, sys
from codeact.sandbox.guest.jail import landlock
folder, file, other = sys.argv[1:4]
fds = [os.open(p, os.O_PATH | os.O_CLOEXEC) for p in (folder, file)]
abi = landlock.abi_version()
landlock.enforce(landlock.ReadRules(fds, abi).ruleset(), abi)
def can(fn):
    try:
        fn()
        return True
    except OSError:
        return False
print(
    can(lambda: open(os.path.join(folder, "in.txt")).read()),
    can(lambda: os.listdir(folder)),
    can(lambda: open(file).read()),
    can(lambda: open(other).read()),
    can(lambda: open(os.path.join(folder, "new.txt"), "w")),
    can(lambda: open(file, "a")),
)
"""


def test_read_rules_encoded_once_allow_reading_beneath_them_and_nothing_else(
    tmp_path: Path,
) -> None:
    from codeact.sandbox.guest.jail import landlock

    if landlock.abi_version() < 1:
        pytest.skip("Landlock is not enabled in this kernel")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "in.txt").write_text("in")
    (tmp_path / "file.txt").write_text("file")
    (tmp_path / "other.txt").write_text("other")
    paths = [str(folder), str(tmp_path / "file.txt"), str(tmp_path / "other.txt")]
    done = subprocess.run(
        [sys.executable, "-c", _RULES, *paths], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True", "False", "False", "False"]
