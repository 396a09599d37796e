"""Mounts as configured: shorthands, and every mistake refused at once with how to fix it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codeact import CodeAct, ConfigurationError, MockBackend, Mount, OutputLimits
from codeact.policy.mounts import check_mounts, to_mount, workspace_mount


def codeact(**kwargs: Any) -> CodeAct:
    return CodeAct(backend=MockBackend(lambda code, call_tool: None), **kwargs)


def test_a_str_is_the_same_path_inside_read_only(tmp_path: Path) -> None:
    mount = to_mount(str(tmp_path))
    assert (mount.host, mount.guest, mount.mode) == (str(tmp_path.resolve()), str(tmp_path), "ro")


def test_a_pair_maps_host_to_guest_read_only(tmp_path: Path) -> None:
    mount = to_mount((tmp_path, "/sandbox/models"))
    assert (mount.guest, mount.mode, mount.writable) == ("/sandbox/models", "ro", False)


def test_mount_rw_and_its_description(tmp_path: Path) -> None:
    mount = Mount(tmp_path, "/scratch/", mode="rw")
    assert mount.guest == "/scratch" and mount.writable
    assert mount.describe() == "/scratch (read-write)"
    assert repr(mount) == f"Mount({str(tmp_path.resolve())!r}, '/scratch', mode='rw')"


def test_relative_host_paths_are_resolved_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    mount = Mount("./data")
    assert mount.host == str((tmp_path / "data").resolve())
    assert mount.guest == (tmp_path / "data").as_posix()


def test_symlinked_host_dirs_are_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert Mount(tmp_path / "link", "/data").host == str((tmp_path / "real").resolve())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: Mount(t / "missing", "/data"), "no such directory on the host"),
        (lambda t: Mount(t / "file.txt", "/data"), "not a directory; mounts share whole dir"),
        (lambda t: Mount(t, "data"), "must be absolute, e.g. '/data'"),
        (lambda t: Mount(t, "/data/../etc"), "must not contain '.' or '..'"),
        (lambda t: Mount(t, "/"), "cannot cover the sandbox's root"),
        (lambda t: Mount(t, "C:\\data"), "use a POSIX path"),
        (lambda t: Mount(t, "/data", mode="write"), "mode must be 'ro'"),  # type: ignore[arg-type]  # wrong on purpose
        (lambda t: Mount("", "/data"), "non-empty path"),
        (lambda t: to_mount(42), "cannot use 42 as a mount"),
        (lambda t: to_mount((t, 5)), "cannot use"),
    ],
)
def test_bad_mounts_say_how_to_fix_them(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        make(tmp_path)


def test_overlapping_guest_paths_are_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with pytest.raises(ConfigurationError, match="overlap inside the sandbox"):
        check_mounts([Mount(a, "/data"), Mount(b, "/data")])
    with pytest.raises(ConfigurationError, match="overlap inside the sandbox"):
        check_mounts([Mount(a, "/data"), Mount(b, "/data/sub")])
    assert len(check_mounts([Mount(a, "/data"), Mount(b, "/database")])) == 2


def test_output_is_reserved_and_input_too_with_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="reserved for every execution's output"):
        check_mounts([Mount(tmp_path, "/output")])
    with pytest.raises(ConfigurationError, match="reserved for every execution's output"):
        check_mounts([Mount(tmp_path, "/output/x")])
    assert check_mounts([Mount(tmp_path, "/input")])  # free without a workspace
    with pytest.raises(ConfigurationError, match="reserved for the workspace"):
        check_mounts([Mount(tmp_path, "/input")], workspace=workspace_mount(tmp_path))


def test_read_only_inside_a_read_write_mount_is_refused(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    with pytest.raises(ConfigurationError, match="read-only but it is inside the read-write"):
        check_mounts([Mount(tmp_path, "/all", mode="rw"), Mount(tmp_path / "inner", "/inner")])
    check_mounts([Mount(tmp_path, "/all"), Mount(tmp_path / "inner", "/inner", mode="rw")])


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_rw_on_a_directory_we_cannot_write_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ConfigurationError, match="cannot write to that directory"):
            Mount(locked, "/data", mode="rw")
    finally:
        locked.chmod(0o700)


def test_codeact_takes_the_shorthands_and_the_workspace(tmp_path: Path) -> None:
    for name in ("data", "models", "scratch", "project"):
        (tmp_path / name).mkdir()
    ca = codeact(
        file_mounts=[
            str(tmp_path / "data"),
            (tmp_path / "models", "/sandbox/models"),
            Mount(tmp_path / "scratch", "/scratch", mode="rw"),
        ],
        workspace_root=tmp_path / "project",
    )
    assert [(m.guest, m.mode) for m in ca.get_file_mounts()] == [
        ((tmp_path / "data").as_posix(), "ro"),
        ("/sandbox/models", "ro"),
        ("/scratch", "rw"),
    ]
    assert ca.workspace_root == str((tmp_path / "project").resolve())
    assert "file_mounts=" in repr(ca)


def test_codeact_mount_management(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca = codeact()
    ca.add_file_mounts((tmp_path / "a", "/a"))  # one pair
    ca.add_file_mounts([(tmp_path / "b", "/b"), Mount(tmp_path / "b", "/b2")])  # a list
    assert [m.guest for m in ca.get_file_mounts()] == ["/a", "/b", "/b2"]
    with pytest.raises(ConfigurationError, match="overlap"):
        ca.add_file_mounts((tmp_path / "a", "/a/x"))
    assert len(ca.get_file_mounts()) == 3  # a refused addition changes nothing
    assert ca.remove_file_mount("/b").guest == "/b"
    with pytest.raises(ConfigurationError, match="no mount at '/nope'; the mounts are: /a, /b2"):
        ca.remove_file_mount("/nope")
    ca.clear_file_mounts()
    assert ca.get_file_mounts() == []


def test_codeact_refuses_bad_grant_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="workspace_root: mount"):
        codeact(workspace_root=tmp_path / "missing")
    with pytest.raises(ConfigurationError, match="file_mounts must be a list"):
        codeact(file_mounts=42)
    with pytest.raises(ConfigurationError, match=r"output_limits must be a codeact\.OutputLimits"):
        codeact(output_limits={"max_files": 1})
    with pytest.raises(ConfigurationError, match=r"OutputLimits\.max_files must be a whole number"):
        OutputLimits(max_files=-1)


def test_output_limits_defaults_are_documented() -> None:
    limits = OutputLimits()
    assert (limits.max_files, limits.max_file_bytes, limits.max_total_bytes) == (
        20,
        10 << 20,
        32 << 20,
    )
    assert repr(OutputLimits(max_files=5, max_file_bytes=1000)) == (
        "OutputLimits(max_files=5, max_file_bytes=1000 bytes, max_total_bytes=32 MiB)"
    )
