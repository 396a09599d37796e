"""The jail's audit hook gives PermissionError for writes under a read-only mount (the kernel's
own answer, EROFS, would be a bare OSError), and stays out of writable mounts nested in it.
An audit hook cannot be removed, so it runs in a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, sys
from codeact.sandbox.guest.jail import readonly
ro, rw = sys.argv[1], sys.argv[2]
readonly.install([(ro, False), (rw, True)])
def probe(name, act):
    try:
        act()
        print(name, "ok")
    except OSError as e:
        print(name, type(e).__name__)
probe("read", lambda: open(ro + "/f.txt").read())
probe("write", lambda: open(ro + "/f.txt", "a"))
probe("create", lambda: os.open(ro + "/new", os.O_CREAT | os.O_WRONLY))
probe("mkdir", lambda: os.mkdir(ro + "/d"))
probe("rename", lambda: os.rename(ro + "/f.txt", rw + "/g.txt"))
probe("remove", lambda: os.remove(ro + "/f.txt"))
probe("chmod", lambda: os.chmod(ro + "/f.txt", 0o777))
probe("relative", lambda: (os.chdir(ro), open("f.txt", "w")))
probe("nested writable", lambda: open(rw + "/h.txt", "w").write("x"))
"""


def test_writes_under_a_read_only_mount_raise_permission_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    rw = ro / "out"
    rw.mkdir(parents=True)
    (ro / "f.txt").write_text("keep")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ro), str(rw)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    results = dict(line.rsplit(" ", 1) for line in proc.stdout.splitlines())
    assert results.pop("read") == "ok" and results.pop("nested writable") == "ok"
    assert set(results.values()) == {"PermissionError"}, results
    assert (ro / "f.txt").read_text() == "keep" and (ro / "f.txt").stat().st_mode & 0o777 != 0o777
