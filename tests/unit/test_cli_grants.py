"""`codeact exec` grant flags as a user runs them: real processes, real sandbox."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from codeact import ConfigurationError
from codeact.cli.grant_options import parse_domain, parse_mount

from ..cli_run import run_codeact

pytestmark = pytest.mark.usefixtures("wasm_ready")


def codeact_cli(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return run_codeact("exec", "-", *args, stdin=stdin)


def test_mount_read_only_and_read_write(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text("from host")
    (tmp_path / "scratch").mkdir()
    code = (
        "open('/scratch/out.txt','w').write(open('/data/in.txt').read().upper())\n"
        "try:\n    open('/data/x','w')\nexcept PermissionError:\n    print('read-only')\n"
    )
    proc = codeact_cli(
        "--mount",
        f"{tmp_path / 'data'}:/data",
        "--mount",
        f"{tmp_path / 'scratch'}:/scratch:rw",
        stdin=code,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "read-only\n"
    assert (tmp_path / "scratch" / "out.txt").read_text() == "FROM HOST"


def test_workspace_is_read_only_at_input(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# notes")
    proc = codeact_cli("--workspace", str(tmp_path), stdin="open('/input/notes.md').read()")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '"# notes"'


def test_output_dir_saves_the_files(tmp_path: Path) -> None:
    code = "import os\nos.makedirs('/output/sub')\nopen('/output/sub/r.csv','w').write('a,b')"
    saved = tmp_path / "saved"
    proc = codeact_cli("--output-dir", str(saved), stdin=code)
    assert proc.returncode == 0, proc.stderr
    assert (saved / "sub" / "r.csv").read_text() == "a,b"
    assert f"saved 1 file(s) to {saved}" in proc.stderr


def test_output_dir_never_replaces_what_is_there(tmp_path: Path) -> None:
    # The program chose the names: a directory given by mistake (a project, a home) must not
    # get its Makefile or .bashrc replaced, nor a link there followed out of it.
    saved = tmp_path / "saved"
    (saved / "sub").mkdir(parents=True)
    (saved / "Makefile").write_text("mine")
    (saved / ".bashrc").write_text("mine too")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (saved / "sub" / "link.txt").symlink_to(outside)
    (saved / "away").symlink_to(tmp_path)
    code = (
        "import os\nos.makedirs('/output/sub')\nos.makedirs('/output/away')\n"
        "for name in ('Makefile', '.bashrc', 'sub/link.txt', 'new.txt'):\n"
        "    open('/output/' + name, 'w').write('from the program')\n"
    )
    proc = codeact_cli("--output-dir", str(saved), stdin=code)
    assert proc.returncode == 0, proc.stderr
    assert (saved / "Makefile").read_text() == "mine"
    assert (saved / ".bashrc").read_text() == "mine too"
    assert outside.read_text() == "keep"
    assert (saved / "Makefile (2)").read_text() == "from the program"
    assert (saved / ".bashrc (2)").read_text() == "from the program"
    assert (saved / "sub" / "link (2).txt").read_text() == "from the program"
    assert (saved / "new.txt").read_text() == "from the program"
    assert "Makefile existed: saved as Makefile (2)" in proc.stderr
    proc = codeact_cli("--output-dir", str(saved), stdin="open('/output/new.txt','w').write('2')")
    assert (saved / "new.txt").read_text() == "from the program"  # a second run keeps the first's
    assert (saved / "new (2).txt").read_text() == "2"
    proc = codeact_cli("--output-dir", str(saved), stdin=code.replace("'new.txt'", "'away/x'"))
    assert proc.returncode == 1
    assert "could not save away/x (a folder on its path is a link" in proc.stderr
    assert not (tmp_path / "x").exists()
    assert (saved / "Makefile (3)").read_text() == "from the program"  # the others are saved


@pytest.mark.parametrize("backend", ["wasm", "jail"])
def test_output_dir_replaced_by_a_link_during_the_run_saves_nothing(
    tmp_path: Path, backend: str
) -> None:
    """DIR inside a read-write mount: the program replaces DIR (or a folder in it) with a
    link to a folder it was never granted, then writes /output; nothing lands there."""
    _needs(backend)
    project, away = tmp_path / "proj", tmp_path / "not_granted"
    (project / "out" / "sub").mkdir(parents=True)
    away.mkdir()
    swap = (
        "import os, shutil\n"
        "shutil.rmtree('/proj/out')\n"
        "os.symlink('../not_granted', '/proj/out')\n"
        "open('/output/planted.txt','w').write('x')\n"
    )
    mount = ("--mount", f"{project}:/proj:rw", "--backend", backend)
    proc = codeact_cli(*mount, "--output-dir", str(project / "out"), stdin=swap)
    assert proc.returncode == 1, proc.stderr
    assert "nothing saved: its path now leads through a symbolic link" in proc.stderr
    assert list(away.iterdir()) == []
    (project / "out").unlink()
    (project / "out" / "sub").mkdir(parents=True)
    inner = (
        "import os, shutil\n"
        "shutil.rmtree('/proj/out/sub')\n"
        "os.symlink('../../not_granted', '/proj/out/sub')\n"
        "os.makedirs('/output/sub')\n"
        "open('/output/sub/planted.txt','w').write('x')\n"
        "open('/output/kept.txt','w').write('y')\n"
    )
    proc = codeact_cli(*mount, "--output-dir", str(project / "out"), stdin=inner)
    assert proc.returncode == 1, proc.stderr
    assert "could not save sub/planted.txt (a folder on its path is a link" in proc.stderr
    assert list(away.iterdir()) == []
    assert (project / "out" / "kept.txt").read_text() == "y"


def test_output_dir_given_through_a_link_is_saved_to_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    proc = codeact_cli(
        "--output-dir", str(tmp_path / "link"), stdin="open('/output/a.txt','w').write('a')"
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "real" / "a.txt").read_text() == "a"


def test_output_dir_without_dir_fd_keeps_files_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the system has no dir_fd (Windows): folders are followed but must stay inside."""
    import os

    from codeact import CodeActError
    from codeact.bridge.protocol import OutputFile
    from codeact.cli import grant_options

    monkeypatch.setattr(os, "supports_dir_fd", set())
    (tmp_path / "away").symlink_to(tmp_path.parent)
    (tmp_path / "a.txt").write_text("mine")
    files = [OutputFile("a.txt", "text/plain", b"new"), OutputFile("away/x", "text/plain", b"x")]
    with pytest.raises(CodeActError, match="its folder leads outside"):
        grant_options.save_files(files, tmp_path)
    assert (tmp_path / "a.txt").read_text() == "mine"
    assert (tmp_path / "a (2).txt").read_text() == "new"
    assert not (tmp_path.parent / "x").exists()


def _needs(backend: str) -> None:
    from codeact.sandbox.registry import backend_availability

    availability = backend_availability(backend)
    if not availability.available:
        pytest.skip(f"{backend}: {availability.reason}")


def test_files_without_output_dir_are_mentioned(tmp_path: Path) -> None:
    proc = codeact_cli("--json", stdin="open('/output/a.txt','w').write('hi')")
    assert proc.returncode == 0, proc.stderr
    assert "wrote a.txt under /output; pass --output-dir DIR" in proc.stderr
    files = json.loads(proc.stdout)["files"]
    assert files[0]["path"] == "a.txt" and files[0]["size"] == 2


def test_allow_domain_grants_http(http_server: Any) -> None:
    code = f"print(http_get({http_server.url('/ok')!r}).json()['path'])\n"
    code += (
        f"try:\n    http_post({http_server.url('/no')!r})\nexcept NetworkDenied as e:\n    print(e)"
    )
    proc = codeact_cli("--allow-domain", f"{http_server.origin}:GET", "--json", stdin=code)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["stdout"].startswith("/ok\nPOST ")
    assert "allows only GET" in data["stdout"]
    assert [(r["method"], r["outcome"]) for r in data["http_requests"]] == [
        ("GET", "ok"),
        ("POST", "denied"),
    ]
    assert http_server.paths() == ["/ok"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mount", "/no/such/dir"], "mount /no/such/dir: no such directory on the host"),
        (["--mount", "a:b:c:d"], "expected HOST[:GUEST][:ro|rw]"),
        (["--mount", ".:relative"], "must be absolute"),
        (["--mount", ".:/output"], "reserved for every execution's output"),
        (["--workspace", "/no/such/dir"], "--workspace: mount /no/such/dir"),
        (["--allow-domain", "ex*.com"], "a wildcard may only be the whole first label"),
        (["--allow-domain", "*"], "allowing every host is not supported"),
    ],
)
def test_bad_grants_exit_2_with_one_line(args: list[str], message: str) -> None:
    proc = codeact_cli(*args, stdin="1")
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mount_specs(tmp_path: Path) -> None:
    assert (parse_mount(str(tmp_path)).guest, parse_mount(str(tmp_path)).mode) == (
        tmp_path.as_posix(),
        "ro",
    )
    assert parse_mount(f"{tmp_path}:rw").mode == "rw"
    mount = parse_mount(f"{tmp_path}:/data:rw")
    assert (mount.guest, mount.mode) == ("/data", "rw")
    assert parse_mount(f"{tmp_path}:/data").mode == "ro"


def test_domain_specs() -> None:
    assert parse_domain("api.github.com").methods is None
    assert parse_domain("api.example.com:GET,post").methods == ("GET", "POST")
    assert parse_domain("127.0.0.1:8080").ports == (8080,)
    rule = parse_domain("https://api.example.com:8443/v1:GET")
    assert (rule.ports, rule.path_prefix, rule.methods) == ((8443,), "/v1", ("GET",))
    assert parse_domain("*.example.org:GET").host == "*.example.org"
    with pytest.raises(ConfigurationError):
        parse_domain("api.example.com:GE T")


def test_a_misspelt_method_is_one_warning_line_and_the_program_still_runs() -> None:
    proc = codeact_cli("--allow-domain", "api.example.com:GTE", stdin="print('ran')")
    assert proc.returncode == 0 and proc.stdout.strip() == "ran"
    warning = [line for line in proc.stderr.splitlines() if "GTE" in line]
    assert warning == [
        "codeact: warning: allowed domain 'api.example.com': 'GTE' is not a standard HTTP "
        "method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, ...); the rule allows only "
        "requests that use it"
    ]
    assert "Traceback" not in proc.stderr and ".py:" not in proc.stderr


def test_names_a_program_chose_reach_the_terminal_escaped(tmp_path: Path) -> None:
    """A file name with escape sequences (clear the screen, retitle the window) and a line
    break (forge a 'codeact:' line) is printed escaped in the CLI's own messages."""
    evil = "report\x1b[2J\x1b]0;PWNED\x07\ncodeact: all good.csv"
    code = f"open('/output/' + {evil!r}, 'w').write('x')\nopen('/output/' + {evil!r} + '2', 'w')"
    for args in ((), ("--output-dir", str(tmp_path / "out"))):
        proc = codeact_cli(*args, stdin=code)
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
        assert "\\x1b[2J" in proc.stderr or args
        assert not any(line.startswith("codeact: all good") for line in proc.stderr.splitlines())
    (tmp_path / "out2").mkdir()
    (tmp_path / "out2" / evil.replace("/", "_")).write_text("mine")
    proc = codeact_cli("--output-dir", str(tmp_path / "out2"), stdin=code)
    assert "\x1b" not in proc.stderr and "existed: saved as" in proc.stderr
    assert "\\x1b[2J" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
