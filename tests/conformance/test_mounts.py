"""Mounts, as the program sees them: exactly the granted directories, with their modes, and
no way out of them (``..``, symlinks, absolute paths)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from codeact import CodeAct, Mount


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """host/data (mounted) with files and symlinks pointing out; host/secret.txt outside."""
    (tmp_path / "secret.txt").write_text("SECRET-" + secrets.token_hex(8))
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "hello.txt").write_text("hello from the host")
    (data / "sub" / "inner.txt").write_text("inner")
    (data / "abs_link").symlink_to(tmp_path / "secret.txt")
    (data / "rel_link").symlink_to("../secret.txt")
    (data / "dir_link").symlink_to(tmp_path)
    (data / "inside_link").symlink_to("sub/inner.txt")
    (tmp_path / "scratch").mkdir()
    return tmp_path


def secret_of(tree: Path) -> str:
    return (tree / "secret.txt").read_text()


PROBE = """
def probe(label, fn):
    try:
        print(label, "OK", repr(fn())[:120])
    except Exception as e:
        print(label, "REFUSED", type(e).__name__)
"""


async def test_a_read_only_mount_can_be_listed_and_read(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    codeact = make_codeact(file_mounts=[(tree / "data", "/data")])
    code = """
import os
print(sorted(os.listdir("/data")))
print(open("/data/hello.txt").read())
print(open("/data/inside_link").read())
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    lines = result.stdout.splitlines()
    assert "hello.txt" in lines[0] and "sub" in lines[0]
    assert lines[1:] == ["hello from the host", "inner"]


async def test_a_read_only_mount_refuses_every_change(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    codeact = make_codeact(file_mounts=[(tree / "data", "/data")])
    code = (
        PROBE
        + """
import os
probe("create", lambda: open("/data/new.txt", "w").write("x"))
probe("append", lambda: open("/data/hello.txt", "a").write("x"))
probe("mkdir", lambda: os.mkdir("/data/newdir"))
probe("unlink", lambda: os.unlink("/data/hello.txt"))
probe("rename", lambda: os.rename("/data/hello.txt", "/data/moved.txt"))
open("/data/new.txt", "w")
"""
    )
    result = await codeact.execute(code)
    assert result.stdout.count("REFUSED") == 5, result.stdout
    assert not result.ok and result.error is not None
    assert result.error.type == "PermissionError"
    assert "/data is mounted read-only" in result.error.traceback
    assert sorted(p.name for p in (tree / "data").iterdir()) == sorted(
        ["hello.txt", "sub", "abs_link", "rel_link", "dir_link", "inside_link"]
    )
    assert (tree / "data" / "hello.txt").read_text() == "hello from the host"


async def test_a_read_write_mount_writes_inside_itself_only(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    codeact = make_codeact(file_mounts=[Mount(tree / "scratch", "/scratch", mode="rw")])
    code = (
        PROBE
        + """
import os
os.makedirs("/scratch/a/b")
open("/scratch/a/b/result.txt", "w").write("written in the sandbox")
probe("dotdot", lambda: open("/scratch/../escaped.txt", "w").write("x"))
probe("deep dotdot", lambda: open("/scratch/a/b/../../../escaped.txt", "w").write("x"))
os.symlink("../secret.txt", "/scratch/link")
probe("symlink out", lambda: open("/scratch/link").read())
"""
    )
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert (tree / "scratch" / "a" / "b" / "result.txt").read_text() == "written in the sandbox"
    assert not (tree / "escaped.txt").exists()
    assert "dotdot REFUSED" in result.stdout and "deep dotdot REFUSED" in result.stdout
    # A link the program made may exist on the host, but the sandbox cannot follow it out.
    assert "symlink out REFUSED" in result.stdout
    assert secret_of(tree) not in result.stdout


async def test_nothing_outside_a_mount_is_reachable(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    codeact = make_codeact(file_mounts=[(tree / "data", "/data")])
    code = (
        PROBE
        + f"""
import os
probe("dotdot", lambda: open("/data/../secret.txt").read())
probe("sub dotdot", lambda: open("/data/sub/../../secret.txt").read())
probe("list parent", lambda: os.listdir("/data/.."))
probe("absolute symlink", lambda: open("/data/abs_link").read())
probe("relative symlink", lambda: open("/data/rel_link").read())
probe("directory symlink", lambda: os.listdir("/data/dir_link"))
probe("host path", lambda: open({str(tree / "secret.txt")!r}).read())
probe("host dir", lambda: os.listdir({str(tree)!r}))
probe("root", lambda: os.listdir("/"))
os.chdir("/data")
probe("relative dotdot", lambda: open("../secret.txt").read())
open("/data/../secret.txt")
"""
    )
    result = await codeact.execute(code)
    assert secret_of(tree) not in result.stdout + result.stderr
    assert result.stdout.count("REFUSED") == 10, result.stdout
    assert result.error is not None
    assert "'..' cannot lead out of a mounted directory" in result.error.traceback


async def test_the_same_path_inside_shorthand(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    codeact = make_codeact(file_mounts=[str(tree / "data")])
    result = await codeact.execute(f"open({str(tree / 'data' / 'hello.txt')!r}).read()")
    assert result.ok, result.error
    assert result.value == "hello from the host"


async def test_the_workspace_is_read_only_at_input(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    codeact = make_codeact(workspace_root=tree / "data")
    code = (
        PROBE
        + """
probe("write", lambda: open("/input/x.txt", "w").write("x"))
open("/input/sub/inner.txt").read()
"""
    )
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value == "inner"
    assert "write REFUSED" in result.stdout


async def test_mounts_are_granted_per_execution(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    granted = make_codeact(file_mounts=[(tree / "data", "/data")])
    plain = make_codeact()
    code = (
        PROBE
        + """
probe("read", lambda: open("/data/hello.txt").read())
"""
    )
    for _ in range(2):  # interleaved: a mounted sandbox never leaks into the next one
        assert "read OK" in (await granted.execute(code)).stdout
        assert "read REFUSED" in (await plain.execute(code)).stdout
    granted.clear_file_mounts()
    assert "read REFUSED" in (await granted.execute(code)).stdout


async def test_a_missing_file_error_lists_what_the_sandbox_sees(
    make_codeact: Callable[..., CodeAct], tree: Path
) -> None:
    codeact = make_codeact(file_mounts=[(tree / "data", "/data")])
    result = await codeact.execute("open('/etc/passwd').read()")
    assert result.error is not None and result.error.type == "FileNotFoundError"
    assert "it sees only /data (read-only), /output (read-write)" in result.error.traceback


async def test_pooled_sandboxes_see_the_folder_at_the_mount_path_now(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    # Backends pool sandboxes with the mounts of the runs that come (opened or bound ahead of
    # time): what a run sees and writes is still the host folder at that path now, even one
    # replaced since a pooled sandbox was made.
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    codeact = make_codeact(file_mounts=[Mount(folder, "/work", mode="rw")])
    program = "import os\nopen('/work/{n}.out', 'w').write('x')\nsorted(os.listdir('/work'))"
    for n in range(3):
        result = await codeact.execute(program.replace("{n}", str(n)))
        assert result.ok, result.error
        assert result.value == sorted(["a.txt", *(f"{i}.out" for i in range(n + 1))])
        await asyncio.sleep(0.05)  # the pool refills with these mounts
    assert sorted(p.name for p in folder.iterdir()) == ["0.out", "1.out", "2.out", "a.txt"]
    folder.rename(tmp_path / "old")
    folder.mkdir()
    (folder / "b.txt").write_text("b")
    result = await codeact.execute("import os\nsorted(os.listdir('/work'))")
    assert result.ok and result.value == ["b.txt"], result


async def test_agents_sharing_a_backend_each_see_only_their_own_mounts(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    # Two CodeActs on one backend, with different folders at the same sandbox path, in turn
    # and at once: a sandbox pooled with one's mounts never runs the other's program.
    agents = []
    for name in ("first", "second", "third"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "owner.txt").write_text(name)
        agents.append((name, make_codeact(file_mounts=[Mount(folder, "/work", mode="rw")])))
    program = "open('/work/owner.txt').read()"
    plain = make_codeact()
    for turn in range(4):
        for name, codeact in [*agents, *agents[:1], *agents[:1]]:
            result = await codeact.execute(program)
            assert result.ok, result.error
            assert result.value == name, (turn, name, result.value)
        seen = await plain.execute("import os\nos.path.exists('/work/owner.txt')")
        assert seen.ok and seen.value is False, seen
    together = await asyncio.gather(*(codeact.execute(program) for _, codeact in agents * 3))
    for (name, _), result in zip(agents * 3, together, strict=True):
        assert result.ok and result.value == name, result


async def test_a_mounted_folder_removed_after_it_was_granted_is_named_in_one_line(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    codeact = make_codeact(file_mounts=[Mount(folder, "/work")])
    program = "import os\nsorted(os.listdir('/work'))"
    for _ in range(2):  # pooled sandboxes hold it open by now
        assert (await codeact.execute(program)).value == []
        await asyncio.sleep(0.05)
    folder.rmdir()
    result = await codeact.execute(program)
    assert not result.ok and result.error is not None
    assert result.error.type == "SandboxError"
    assert result.error.message == (
        f"the host folder {folder} mounted at /work is gone (removed or renamed after it was "
        "granted): restore it there, or grant its new path"
    )
    folder.mkdir()
    (folder / "back.txt").write_text("b")
    assert (await codeact.execute(program)).value == ["back.txt"]
