"""The Agent Framework provider's ``/input`` snapshot copies the granted trees without ever
following a link, even one swapped in by a concurrent writer after the entry was checked
(before, the copy went by path: a file turned into a link to a host file between the check
and the copy put that host file into the sandbox's ``/input``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("agent_framework")

from codeact.integrations.agent_framework import _inputs

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and O_NOFOLLOW")


def test_a_file_swapped_for_a_link_after_its_check_is_refused_not_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    granted = tmp_path / "granted"
    granted.mkdir()
    (granted / "notes.txt").write_text("mine")
    (tmp_path / "secret.txt").write_text("host secret")
    checked = _inputs._is_link

    def check_then_swap(path: Path, info: object = None) -> bool:
        answer = checked(path)
        if path.name == "notes.txt" and not path.is_symlink():
            path.unlink()  # the writer's move, right after the check said "not a link"
            path.symlink_to(tmp_path / "secret.txt")
        return answer

    monkeypatch.setattr(_inputs, "_is_link", check_then_swap)
    target = tmp_path / "snapshot"
    with pytest.raises(_inputs.LinkRefused):
        _inputs._copy(granted, target)
    assert (
        not (target / "notes.txt").exists()
        or "host secret" not in (target / "notes.txt").read_text()
    )


def test_a_tree_without_links_is_copied_whole(tmp_path: Path) -> None:
    granted = tmp_path / "granted"
    (granted / "sub").mkdir(parents=True)
    (granted / "a.txt").write_text("a")
    (granted / "sub" / "b.bin").write_bytes(b"\x00b")
    target = tmp_path / "snapshot"
    _inputs._copy(granted, target)
    assert (target / "a.txt").read_text() == "a"
    assert (target / "sub" / "b.bin").read_bytes() == b"\x00b"
