"""A mount is no way out, on every backend.

A read-only mount's files cannot change on the host, even past Python: raw writes through
ctypes, chattr flags (FS_IOC_SETFLAGS), and ``file_setattr`` (Linux 6.17), which Landlock does
not cover and which an older seccomp denylist did not name. The kernel refuses: the mount is
bound read-only, and the seccomp allowlist does not know the new call.

A writable mount leads nowhere else: not by ``..``, symlinks, hard links, renames, or a
working directory inside it."""

from __future__ import annotations

import array
import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_FS_IOC_GETFLAGS = 0x80086601

ATTEMPT = """
import os, sys
path = b"/data/canary.txt"
# The import filter is a courtesy: take it out of the way, as an attacker would.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportPolicy"]
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
except Exception as e:
    print("no ctypes:", type(e).__name__)
    libc = None
if libc is not None:
    attr = (ctypes.c_uint32 * 6)()  # struct file_attr (24 bytes)
    libc.syscall(468, -100, path, attr, 24, 0)
    attr[0] |= 0x20 | 0x40 | 0x80  # FS_XFLAG_SYNC | NOATIME | NODUMP
    r = libc.syscall(469, -100, path, attr, 24, 0)
    print("file_setattr", r, ctypes.get_errno())
    if r == 0:
        print("CHANGED file_setattr")
    fd = libc.open(path, os.O_WRONLY | os.O_APPEND)  # past Python's own checks
    print("raw open", fd, ctypes.get_errno())
    if fd >= 0 and libc.write(fd, b"pwned", 5) == 5:
        print("CHANGED raw write")
try:
    import array, fcntl
    fd = os.open(path, os.O_RDONLY)
    fcntl.ioctl(fd, 0x40086602, array.array("l", [0x8 | 0x40 | 0x80]))  # FS_IOC_SETFLAGS
    print("CHANGED chattr")
except (ImportError, OSError) as e:
    print("chattr", type(e).__name__)
try:
    open(path, "a").write("pwned")
    print("CHANGED append")
except OSError as e:
    print("append", type(e).__name__)
"""


def _flags(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
        return buf[0]
    except OSError:
        return None
    finally:
        os.close(fd)


async def test_a_read_only_mount_keeps_its_files_and_their_flags(
    attempt: Callable[..., Any], host: Any
) -> None:
    before = _flags(host.canary_file)
    result = await attempt(ATTEMPT, file_mounts=[(host.tmp, "/data")])
    assert "CHANGED" not in result.stdout, result.stdout
    assert _flags(host.canary_file) == before
    if "append" in result.stdout:
        assert "append PermissionError" in result.stdout  # as on every backend


async def test_the_kernel_refuses_what_python_does_not_see(
    attempt: Callable[..., Any], host: Any, backend_name: str
) -> None:
    """Through ctypes no Python check runs: the refusal is the kernel's (EROFS from the
    read-only bind, ENOSYS from the seccomp allowlist for file_setattr)."""
    if backend_name != "jail":
        pytest.skip(f"{backend_name} has no ctypes: nothing reaches the kernel unchecked")
    result = await attempt(ATTEMPT, file_mounts=[(host.tmp, "/data")])
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["file_setattr"].split()[0] == "-1"
    assert lines["raw"].startswith("open -1 30"), result.stdout  # EROFS


MOUNT_ATTEMPTS = {
    "dot_dot_out_of_a_writable_mount": """
for path in ["/scratch/../pwned", "/scratch/a/../../pwned", "/scratch/../../@PWNED@"]:
    try:
        open(path, "w").write("pwned")
        print("WROTE", path)
    except Exception as e:
        print("refused", path, type(e).__name__)
""",
    "symlink_in_a_mount_to_the_canary": """
import os
for target in ["@CANARY_FILE@", "../canary.txt", "../../canary.txt"]:
    link = "/scratch/link" + str(len(target))
    try:
        os.symlink(target, link)
        print("READ", open(link).read())
    except Exception as e:
        print("refused", target, type(e).__name__)
""",
    "hardlink_and_rename_across_the_mount": """
import os
for name, act in [
    ("link canary in", lambda: os.link("@CANARY_FILE@", "/scratch/canary")),
    ("rename out", lambda: (open("/scratch/f", "w").close(), os.rename("/scratch/f", "@PWNED@"))),
    ("rename to parent", lambda: os.rename("/scratch/f", "/scratch/../f")),
]:
    try:
        act()
        print("DONE", name)
    except Exception as e:
        print(name, type(e).__name__)
""",
    "change_directory_into_the_mount_and_climb": """
import os
os.chdir("/scratch")
for path in ["..", "../..", "/proc/self/root/scratch/.."]:
    try:
        print("LISTED", path, os.listdir(path))
    except Exception as e:
        print("refused", path, type(e).__name__)
try:
    open("../pwned", "w")
    print("WROTE ../pwned")
except Exception as e:
    print("refused ../pwned", type(e).__name__)
""",
}


@pytest.fixture
def scratch(host: Any) -> Any:
    """A writable folder the host grants (a sibling of the canary, so `..` would reach it)."""
    import shutil

    path = host.tmp / "scratch"
    path.mkdir(exist_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)
    for leftover in ("pwned", "f"):
        (host.tmp / leftover).unlink(missing_ok=True)


@pytest.mark.parametrize("name", list(MOUNT_ATTEMPTS))
async def test_a_writable_mount_is_no_way_out(
    attempt: Callable[..., Any], scratch: Any, name: str, backend_name: str
) -> None:
    from codeact import Mount

    if backend_name == "hyperlight":
        pytest.skip("hyperlight grants no mount but /input")
    result = await attempt(
        MOUNT_ATTEMPTS[name], file_mounts=[Mount(scratch, "/scratch", mode="rw")]
    )
    out = result.stdout
    assert not _refusals_only(out, "WROTE", "READ", "LISTED"), out
    assert not [p for p in scratch.parent.iterdir() if p.name in ("pwned", "f")]
    assert "DONE link canary in" not in out


def _refusals_only(stdout: str, *words: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.split(" ", 1)[0] in words]
