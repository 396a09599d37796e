"""The files the CLI writes on the host (--session, --trace, --audit) when a program has a
read-write mount holding them: a link the program makes there is never followed, in the run
that makes it or in a later one; links of the user's own elsewhere still are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..cli_run import run_codeact

pytestmark = pytest.mark.usefixtures("wasm_ready")

PLANT = """
import os
os.symlink({target!r}, {link!r})
x = 41
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "keys").write_text("legit\n")
    return tmp_path


def _exec(project: Path, *args: str, code: str) -> tuple[int, str]:
    mount = ("--mount", f"{project / 'proj'}:/work:rw")
    proc = run_codeact("exec", "-", *mount, *args, stdin=code, cwd=project / "proj")
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("backend", ["wasm", "jail"])
def test_a_session_file_replaced_by_a_link_is_never_written_through(
    project: Path, backend: str
) -> None:
    code = "import os\nos.remove('/work/s.state')\n" + PLANT.format(
        target="../victim/keys", link="/work/s.state"
    )
    assert _exec(project, "--session", "s.state", "--backend", backend, code="y = 1")[0] == 0
    status, stderr = _exec(project, "--session", "s.state", "--backend", backend, code=code)
    assert status == 0, stderr
    assert (project / "victim" / "keys").read_text() == "legit\n"
    assert not (project / "proj" / "s.state").is_symlink()  # the link was replaced, not followed
    status, stderr = _exec(project, "--session", "s.state", "--backend", backend, code="x + y")
    assert status == 0, stderr


def test_a_link_planted_by_an_earlier_run_is_refused_before_anything_runs(project: Path) -> None:
    (project / "proj" / "s.state").symlink_to("../victim/keys")
    (project / "proj" / "t.jsonl").symlink_to("../victim/keys")
    for option, name in (("--session", "s.state"), ("--trace", "t.jsonl")):
        status, stderr = _exec(project, option, name, code="print(1)")
        assert status == 2, stderr
        assert "inside the read-write mount" in stderr and "a program may have made" in stderr
        assert len(stderr.strip().splitlines()) == 1
    assert (project / "victim" / "keys").read_text() == "legit\n"


def test_a_trace_file_made_a_link_during_the_run_is_not_written_through(project: Path) -> None:
    pytest.importorskip("opentelemetry.sdk")
    code = PLANT.format(target="../victim/keys", link="/work/t.jsonl")
    status, stderr = _exec(project, "--trace", "t.jsonl", code=code)
    assert (project / "victim" / "keys").read_text() == "legit\n"
    assert "cannot write --trace" in stderr and "symbolic link" in stderr, (status, stderr)


def test_an_audit_log_inside_a_read_write_mount_is_refused(project: Path) -> None:
    status, stderr = _exec(project, "--audit", "audit.jsonl", code="print(1)")
    assert status == 2
    assert "inside the read-write mount" in stderr and "keep it outside" in stderr
    proc = run_codeact(
        "serve-mcp",
        "--mount",
        f"{project / 'proj'}:/work:rw",
        "--audit",
        str(project / "proj" / "audit.jsonl"),
        stdin="",
    )
    assert proc.returncode == 2 and "keep it outside" in proc.stderr


def test_resolve_among_follows_only_the_users_links(tmp_path: Path) -> None:
    from codeact._paths import UntrustedLink, resolve_among

    mount, elsewhere = tmp_path / "mount", tmp_path / "elsewhere"
    (mount / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (tmp_path / "mine").symlink_to(mount / "sub")  # the user's own link, outside the mount
    assert resolve_among(tmp_path / "mine" / "f", [str(mount)]) == mount / "sub" / "f"
    (mount / "sub" / "planted").symlink_to(elsewhere)
    with pytest.raises(UntrustedLink) as caught:
        resolve_among(tmp_path / "mine" / "planted" / "f", [str(mount)])
    assert caught.value.folder == str(mount)
    assert resolve_among(mount / "new" / "f", [str(mount)]) == mount / "new" / "f"


def test_writes_without_links_replace_a_link_or_refuse_one(tmp_path: Path) -> None:
    from codeact._paths import atomic_write, open_nofollow

    (tmp_path / "victim").write_text("legit")
    (tmp_path / "state").symlink_to(tmp_path / "victim")
    atomic_write(tmp_path / "state", b"new", follow_links=False)
    assert (tmp_path / "victim").read_text() == "legit"
    assert (tmp_path / "state").read_bytes() == b"new"
    (tmp_path / "dir").mkdir()
    (tmp_path / "via").symlink_to(tmp_path / "dir")
    with pytest.raises(OSError) as caught:
        open_nofollow(tmp_path / "via" / "f", os.O_WRONLY | os.O_CREAT)
    assert caught.value.errno == 40  # ELOOP
    (tmp_path / "t").symlink_to(tmp_path / "victim")
    with pytest.raises(OSError):
        open_nofollow(tmp_path / "t", os.O_WRONLY | os.O_APPEND)
    assert (tmp_path / "victim").read_text() == "legit"
