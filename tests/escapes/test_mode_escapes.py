"""Files a program leaves behind with dangerous mode bits: a setuid or setgid file (or a setgid
folder), or one any user of the host may change, made in a read-write mount stays on the host
after the run. The jail runs as the
host's user (root, on many servers), so such a file would let anyone who runs it act as that
user. chmod is refused already; these attempts set the bits when the file is created, through
every call that takes a mode (`open`, `openat`, `creat`, `mkdir`, `mknod`, and `openat2`,
whose mode the seccomp filter cannot read). On every backend (the Wasm guest has no modes)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ATTEMPT = """
import os, sys
try:
    os.umask(0)
except OSError as e:
    print("umask", type(e).__name__)
tries = [
    ("open", lambda p: os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o6777))),
    ("mkdir", lambda p: os.mkdir(p, 0o7777)),
    ("mknod", lambda p: os.mknod(p, 0o6777 | 0o100000)),
    ("builtin open", lambda p: open(p, "w", opener=lambda q, f: os.open(q, f, 0o4755)).close()),
    ("world writable", lambda p: os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o777))),
    ("world writable dir", lambda p: os.mkdir(p, 0o777)),
]
for base in ("/scratch", "/output"):
    for name, make in tries:
        path = f"{base}/{name.replace(' ', '_')}"
        try:
            make(path)
            print("MADE", path, oct(os.stat(path).st_mode))
        except Exception as e:
            print("refused", path, type(e).__name__)
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportPolicy"]
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
except Exception as e:
    print("no ctypes:", type(e).__name__)
else:
    for nr, name, args in (
        (85, "creat", lambda p: (p, 0o6777)),  # x86_64 numbers; other machines: ENOSYS or EPERM
        (2, "open", lambda p: (p, os.O_CREAT | os.O_WRONLY, 0o6777)),
        (83, "raw mkdir", lambda p: (p, 0o7777)),
    ):
        path = f"/scratch/raw_{name.replace(' ', '_')}".encode()
        r = libc.syscall(nr, *args(path))
        print("raw", name, r, ctypes.get_errno())
    how = (ctypes.c_uint64 * 3)(os.O_CREAT | os.O_WRONLY, 0o6777, 0)  # struct open_how
    r = libc.syscall(437, -100, b"/scratch/raw_openat2", how, 24)
    print("raw openat2", r, ctypes.get_errno())
"""

# setuid, setgid, sticky, and writable by the host's other users.
_SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH


@pytest.fixture
def scratch(host: Any) -> Iterator[Path]:
    import shutil

    path = host.tmp / "mode-scratch"
    path.mkdir(exist_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _special_files(root: Path) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if mode & _SPECIAL:
                found.append(f"{name}: {oct(mode)}")
    return found


async def test_no_setuid_or_setgid_file_is_left_on_the_host(
    attempt: Callable[..., Any], scratch: Path, backend_name: str
) -> None:
    from codeact import Mount

    if backend_name == "hyperlight":
        pytest.skip("hyperlight grants no mount but /input")
    result = await attempt(ATTEMPT, file_mounts=[Mount(scratch, "/scratch", mode="rw")])
    assert _special_files(scratch) == [], result.stdout
    for line in result.stdout.splitlines():
        if line.startswith("MADE"):  # made without the bits is fine (the Wasm guest)
            assert not int(line.rsplit(" ", 1)[1], 8) & _SPECIAL, line
    for file in result.files:
        assert file.path not in ("open", "mknod", "builtin_open"), "returned a setuid file"


async def test_the_jail_refuses_the_bits_in_the_kernel(
    attempt: Callable[..., Any], scratch: Path, backend_name: str
) -> None:
    """Through ctypes no Python check runs: seccomp refuses the mode (EPERM), and openat2,
    whose mode it cannot read, is unknown (ENOSYS)."""
    if backend_name != "jail":
        pytest.skip(f"{backend_name} has no ctypes: nothing reaches the kernel unchecked")
    from codeact import Mount

    result = await attempt(ATTEMPT, file_mounts=[Mount(scratch, "/scratch", mode="rw")])
    out = result.stdout
    assert "refused /scratch/open PermissionError" in out, out
    assert "refused /scratch/mkdir PermissionError" in out, out
    if os.uname().machine == "x86_64":
        assert "raw creat -1 1" in out and "raw open -1 1" in out, out
    assert "raw openat2 -1 38" in out, out
    assert _special_files(scratch) == []
