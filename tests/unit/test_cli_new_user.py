"""What a new user of `codeact exec` trips over with bad input, checked before the program runs
(so no program runs, and no tool is called, only to lose its results). Real processes, real
sandbox."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")

WRITES = "print('ran')\nopen('/output/a.txt', 'w').write('data')\n"


def test_an_output_dir_that_cannot_be_made_is_a_usage_error_before_the_program_runs(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = codeact_cli("exec", "-", "--output-dir", str(blocker / "sub"), stdin=WRITES)
    # was: the program ran (printed 'ran'), then its files were lost with exit 2
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr == (
        f"codeact: error: --output-dir {blocker / 'sub'}: cannot create it (Not a directory); "
        "choose a directory you can write to\n"
    )


def test_an_output_dir_is_made_with_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    proc = codeact_cli("exec", "-", "--output-dir", str(target), stdin=WRITES)
    assert proc.returncode == 0, proc.stderr
    assert (target / "a.txt").read_text() == "data"


def test_an_empty_tools_spec_says_what_to_give() -> None:
    proc = codeact_cli("exec", "-", "--tools", "", stdin="1")
    # was: importing  failed at ../src/codeact/cli/common.py:205: ValueError: Empty module name
    assert proc.returncode == 2
    assert proc.stderr.startswith("codeact: error: --tools '': give MODULE:ATTR")


def test_serve_mcp_on_a_port_in_use_is_one_line_before_serving() -> None:
    pytest.importorskip("mcp", reason="serve-mcp needs pip install -e '.[mcp]'")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = codeact_cli("serve-mcp", "--http", f"127.0.0.1:{port}", timeout=120)
    # was: "codeact: serving execute_code at ...", uvicorn's "ERROR: [Errno 98] ...", exit 3
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"codeact: error: --http 127.0.0.1:{port}: cannot listen there (Address already in "
        f"use); choose another port, e.g. --http 127.0.0.1:{port + 1}\n"
    )


MAIL_TOOLS = '''
from codeact import tool

@tool(approval_mode="always_require")
def send_email(to: str, body: str) -> str:
    """Send an email."""
    return f"sent to {to}"
'''


def test_an_audit_file_that_cannot_be_written_is_refused_before_any_call(tmp_path: Path) -> None:
    tools = tmp_path / "mail.py"
    tools.write_text(MAIL_TOOLS)
    audit = tmp_path / "missing" / "calls.jsonl"
    program = "print(send_email(to='a@b.c', body='hi'))"
    args = ["--tools", str(tools), "--approve", "all", "--audit", str(audit)]
    proc = codeact_cli("exec", "-", *args, stdin=program)
    # was: the email was sent ("sent to a@b.c"), then the audit of that call was lost (exit 2)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr == (
        f"codeact: error: --audit {audit}: its directory {audit.parent} does not exist; create "
        "it or choose another file\n"
    )
    audit.parent.mkdir()
    proc = codeact_cli("exec", "-", *args, stdin=program)
    assert proc.returncode == 0 and '"decision": "approved"' in audit.read_text()


def test_jsonl_audit_refuses_a_path_it_could_never_write(tmp_path: Path) -> None:
    from codeact import ConfigurationError, JsonlAudit

    with pytest.raises(ConfigurationError, match=r"its directory .* does not exist"):
        JsonlAudit(
            tmp_path / "missing" / "calls.jsonl"
        )  # was: accepted; each call logged a warning
    with pytest.raises(ConfigurationError, match=r"is a directory; name a file in it"):
        JsonlAudit(tmp_path)


@pytest.mark.parametrize("given", ["127.0.0.1", "localhost:1", "127.0.0.1:{port}:POST"])
def test_the_allow_domain_flag_a_refusal_suggests_works(given: str, http_server: Any) -> None:
    program = f"print(http_get({http_server.url('/x')!r}).status)"
    spec = given.format(port=http_server.port)
    refused = codeact_cli("exec", "-", "--allow-domain", spec, stdin=program)
    assert refused.returncode == 1
    # was: "add --allow-domain HOST" (a placeholder), or a host without the port it needs
    found = re.search(r"(?:add|allow it with) --allow-domain (\S+)$", refused.stderr.strip())
    assert found is not None, refused.stderr
    proc = codeact_cli(
        "exec", "-", "--allow-domain", spec, "--allow-domain", found[1], stdin=program
    )
    assert proc.returncode == 0 and proc.stdout == "200\n", proc.stderr


def test_grant_errors_name_the_flags_not_the_python_arguments(tmp_path: Path) -> None:
    proc = codeact_cli("exec", "-", "--mount", f"{tmp_path}:/input", "--workspace", str(tmp_path))
    # was: "... reserved for the workspace (workspace_root); ... e.g. Mount('/tmp/x', '/data')"
    assert proc.returncode == 2
    assert proc.stderr == (
        f"codeact: error: mount {tmp_path}: the sandbox path /input collides with /input, which "
        "is reserved for the workspace (--workspace); choose another sandbox path, e.g. "
        f"--mount {tmp_path}:/data\n"
    )
    proc = codeact_cli("exec", "-", "--workspace", str(tmp_path / "missing"))
    assert proc.stderr.startswith("codeact: error: --workspace: mount ")


@pytest.mark.parametrize(
    ("data", "out"),
    [
        (b"\xef\xbb\xbfprint('bom')\r\nx = 1\r\nx\r\n", "bom\n1\n"),  # was: SyntaxError U+FEFF
        (b"# -*- coding: latin-1 -*-\nprint('caf\xe9')\n", "caf\u00e9\n"),  # was: exit 2
        ("print('utf16 \u00e9')\n".encode("utf-16"), "utf16 \u00e9\n"),  # was: exit 2
    ],
)
def test_a_program_file_is_read_as_python_reads_it(tmp_path: Path, data: bytes, out: str) -> None:
    program = tmp_path / "p.py"
    program.write_bytes(data)
    proc = codeact_cli("exec", str(program))
    assert proc.returncode == 0 and proc.stdout == out, proc.stderr


def test_a_program_that_is_not_utf8_says_where_and_how_to_fix_it(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_bytes(b"print('caf\xe9')\n")
    proc = codeact_cli("exec", str(program))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"codeact: error: cannot read {program}: it is not UTF-8 (byte 0xe9 at position 10); "
        "save it as UTF-8, or name its encoding in a first-line comment such as "
        "# -*- coding: latin-1 -*-\n"
    )


def test_a_cache_directory_that_cannot_be_made_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "CODEACT_CACHE_DIR"}
    env["CODEACT_CACHE_DIR"] = str(blocker / "cache")
    proc = codeact_cli("exec", "-", stdin="1", env=env)
    # was: codeact: error: internal error: NotADirectoryError: [Errno 20] Not a directory: ...
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"codeact: error: codeact's cache directory {blocker / 'cache'}")
    assert proc.stderr.endswith(
        "cannot be made (Not a directory); set CODEACT_CACHE_DIR to a directory you can write to\n"
    )


def test_find_links_without_a_package_is_a_usage_error(tmp_path: Path) -> None:
    proc = codeact_cli("exec", "-", "--find-links", str(tmp_path), stdin="1")
    # was: accepted and ignored without a word
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        f"codeact: error: --find-links {tmp_path}: name the packages to install from it with "
        "--package NAME (a wheelhouse alone grants nothing)\n"
    )


def test_a_module_the_sandbox_lacks_says_how_to_grant_it() -> None:
    proc = codeact_cli("exec", "-", stdin="import tabulate")
    assert proc.returncode == 1
    # was: only the model's message ("without native extensions or pip packages")
    assert proc.stderr.endswith(
        "codeact: to let programs import 'tabulate', grant the package that provides it: "
        "--package NAME (wasm takes pure-Python packages; --backend jail native ones too)\n"
    )
    stdlib = codeact_cli("exec", "-", stdin="import ctypes")  # not in wasm, and not a package
    assert stdlib.returncode == 1 and "--package" not in stdlib.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "sandbox", "--runs", "5", "--json"],
        ["bench", "order-totals", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--json"],
        ["bench", "m3tooleval", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--chart"],
    ],
)
def test_a_bench_result_file_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, args: list[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker / "out.json"
    proc = codeact_cli(*args, str(target))
    # was: the benchmark ran (minutes to hours with a model), then "internal error:
    # FileNotFoundError" and its results were lost
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr == (
        f"codeact: error: {args[-1]}: cannot write {target} (a part of its path is a file); "
        "choose another path\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "sandbox", "--runs", "5", "--no-sessions", "--no-throughput", "--json"],
        ["bench", "order-totals", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--json"],
        ["bench", "m3tooleval", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--chart"],
    ],
)
def test_a_bench_result_file_in_a_mistyped_folder_is_refused_and_no_folder_is_made(
    tmp_path: Path, args: list[str]
) -> None:
    folder = tmp_path / "no-such-folder"
    target = folder / "deeper" / "out.json"
    proc = codeact_cli(*args, str(target))
    # was: the folders were made (silently, wherever a typo pointed) and the benchmark ran
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr == (
        f"codeact: error: {args[-1]}: cannot write {target}: its directory {target.parent} "
        "does not exist; create it or choose another path\n"
    )
    assert not folder.exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
def test_a_program_too_large_to_be_one_is_refused_before_it_fills_memory() -> None:
    # `codeact exec /dev/zero` read until the machine ran out of memory (the OOM killer
    # ended it after 20 s here); a log file given by mistake came close.
    proc = codeact_cli("exec", "/dev/zero", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "codeact: error: /dev/zero is larger than 16 MiB, too large for a program; give the "
        "program data through --mount or --workspace instead"
    )
    proc = codeact_cli("exec", "-", stdin="#" * (16 * 2**20 + 1), timeout=60)
    assert proc.returncode == 2
    assert "the program on stdin is larger than 16 MiB" in proc.stderr
