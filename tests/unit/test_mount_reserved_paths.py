"""A mount never hides what the sandbox puts in its own places: /packages is refused on every
backend (the Wasm guest's granted packages live there), granted or not, and so is the jail's
package tree at its own path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codeact import CodeAct, ConfigurationError, MockBackend, Mount
from codeact.policy.mounts import check_mounts
from codeact.policy.packages import PackageGrant


def codeact(**kwargs: Any) -> CodeAct:
    return CodeAct(backend=MockBackend(lambda code, call_tool: None), **kwargs)


@pytest.mark.parametrize("guest", ["/packages", "/packages/mine", "/packages/"])
def test_a_mount_at_or_under_packages_is_refused_in_one_line(tmp_path: Path, guest: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        codeact(file_mounts=[(tmp_path, guest)])
    message = str(info.value)
    assert "\n" not in message
    assert "/packages" in message and "reserved for the granted packages" in message
    assert "choose another sandbox path, e.g. Mount(" in message


def test_added_later_it_is_refused_too(tmp_path: Path) -> None:
    agent = codeact()
    with pytest.raises(ConfigurationError, match="reserved for the granted packages"):
        agent.add_file_mounts(Mount(tmp_path, "/packages"))
    assert agent.get_file_mounts() == []


def test_a_mount_above_packages_is_refused(tmp_path: Path) -> None:
    # "/" itself is refused already; a mount can only contain /packages by being it.
    with pytest.raises(ConfigurationError, match="collides with /packages"):
        check_mounts([Mount(tmp_path, "/packages")])


def test_a_neighbour_path_is_fine(tmp_path: Path) -> None:
    assert codeact(file_mounts=[(tmp_path, "/packages2")]).get_file_mounts()[0].guest == (
        "/packages2"
    )


def _jail_grant(tree: Path) -> PackageGrant:
    return PackageGrant(("x",), (), str(tree), ("x",), ("x",), "jail", "k")


def test_the_jail_package_tree_cannot_be_hidden_by_another_folder(tmp_path: Path) -> None:
    tree, other = tmp_path / "tree", tmp_path / "other"
    tree.mkdir()
    other.mkdir()
    with pytest.raises(ConfigurationError, match="reserved for the granted packages"):
        check_mounts([Mount(other, str(tree))], packages=str(tree))
    with pytest.raises(ConfigurationError, match="reserved for the granted packages"):
        check_mounts([Mount(other, str(tree / "sub"))], packages=str(tree))
    # The same folder at its own path shows the same files: nothing is hidden.
    assert check_mounts([Mount(tmp_path)], packages=str(tree))[0].guest == str(tmp_path)


class _JailLike(MockBackend):
    name = "jail"

    def __init__(self, grant: PackageGrant) -> None:
        super().__init__(lambda code, call_tool: None)
        self.package_grant = grant


def test_a_codeact_with_jail_packages_checks_its_mounts_against_the_tree(tmp_path: Path) -> None:
    tree, other = tmp_path / "tree", tmp_path / "other"
    tree.mkdir()
    other.mkdir()
    grant = _jail_grant(tree)
    with pytest.raises(ConfigurationError, match="reserved for the granted packages"):
        CodeAct(backend=_JailLike(grant), file_mounts=[(other, str(tree))], packages=grant)
    agent = CodeAct(backend=_JailLike(grant), packages=grant)
    with pytest.raises(ConfigurationError, match="reserved for the granted packages"):
        agent.add_file_mounts((other, str(tree)))
