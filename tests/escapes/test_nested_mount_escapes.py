"""A granted folder inside another granted read-write folder: the program can rename the inner
folder's host path and put a link there (to a folder never granted, or to /etc). The next
run must not see what the link leads to, on any backend: the run is refused with one line,
and each backend opens a granted folder without following links even when the runtime's own
check is out of the way (the check and the opening are apart in time; a program running
meanwhile in another sandbox could make the link in between).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeact import CodeAct, Limits, Mount
from codeact.runtime import execution

SWAP = """
import os
os.rename("/w/inner", "/w/inner_old")
os.symlink({target!r}, "/w/inner")
print("swapped")
"""

LOOK = """
import os
try:
    print("LISTED", sorted(os.listdir("/s")))
    print("READ", open("/s/secret.txt").read())
except OSError as e:
    print("refused", type(e).__name__)
try:
    open("/s/planted.txt", "w").write("x")
    print("WROTE")
except OSError as e:
    print("write refused", type(e).__name__)
"""


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "outer" / "inner").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / "mine.txt").write_text("granted\n")
    (tmp_path / "not_granted").mkdir()
    (tmp_path / "not_granted" / "secret.txt").write_text("TOP-SECRET\n")
    yield tmp_path


def _codeact(backend_name: str, tree: Path) -> CodeAct:
    return CodeAct(
        backend=backend_name,
        limits=Limits(wall_time=20),
        file_mounts=[
            Mount(tree / "outer", "/w", mode="rw"),
            Mount(tree / "outer" / "inner", "/s", mode="rw"),
        ],
    )


def _unreached(tree: Path, text: str) -> None:
    assert "TOP-SECRET" not in text
    assert "LISTED" not in text
    assert sorted(os.listdir(tree / "not_granted")) == ["secret.txt"]


@pytest.mark.parametrize("target", ["../not_granted", "absolute"])
async def test_a_link_put_at_a_granted_folder_is_never_followed(
    backend_name: str, tree: Path, target: str
) -> None:
    link = str(tree / "not_granted") if target == "absolute" else target
    codeact = _codeact(backend_name, tree)
    first = await codeact.execute(SWAP.format(target=link))
    if not first.ok:  # a backend may refuse making the link at all: nothing to follow then
        assert not (tree / "outer" / "inner").is_symlink()
        return
    second = await codeact.execute(LOOK)
    assert not second.ok
    assert second.error is not None
    assert "leads through a symbolic link" in second.error.message
    assert "\n" not in second.error.message
    _unreached(tree, second.stdout + repr(second.error))


async def test_each_backend_opens_a_granted_folder_without_links(
    backend_name: str, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime's check taken out: the backend itself refuses the path through a link."""
    codeact = _codeact(backend_name, tree)
    first = await codeact.execute(SWAP.format(target="../not_granted"))
    if not first.ok:
        return
    monkeypatch.setattr(execution, "missing_mount", lambda mounts: None)
    second = await codeact.execute(LOOK)
    assert not second.ok, second.stdout
    _unreached(tree, second.stdout + repr(second.error))


async def test_the_folder_granted_is_still_reached_after_a_swap_back(
    backend_name: str, tree: Path
) -> None:
    """Putting the real folder back on the host makes the mount usable again (the grant is
    the path reached without links, not a folder that must never change)."""
    codeact = _codeact(backend_name, tree)
    first = await codeact.execute(SWAP.format(target="../not_granted"))
    if not first.ok:
        return
    (tree / "outer" / "inner").unlink()
    (tree / "outer" / "inner_old").rename(tree / "outer" / "inner")
    again = await codeact.execute('import os\nsorted(os.listdir("/s"))')
    assert again.ok, again.error
    assert again.value == ["mine.txt"]


def test_open_granted_folder_refuses_a_link_anywhere_on_the_path(tmp_path: Path) -> None:
    from codeact.policy.mounts import open_granted_folder

    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("")
    os.close(open_granted_folder(str(tmp_path / "real" / "sub")))
    for path, err in (
        (tmp_path / "link", errno.ELOOP),
        (tmp_path / "link" / "sub", errno.ELOOP),
        (tmp_path / "file", errno.ENOTDIR),
        (tmp_path / "gone", errno.ENOENT),
    ):
        with pytest.raises(OSError) as caught:
            open_granted_folder(str(path))
        assert caught.value.errno == err, path
