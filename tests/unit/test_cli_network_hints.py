"""Inside `codeact exec`, a program's network denial names the command line's flag
(`--allow-domain ...`) whichever rule refused it and wherever the program shows the message
(printed on stdout, or in its traceback). Was: a method denial printed by the program named
Python (`allowed_domains=[('http://127.0.0.1:18766', 'POST')]`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..cli_run import run_codeact as codeact_cli

pytestmark = pytest.mark.usefixtures("wasm_ready")

PROGRAM = """
for call, url in ((http_post, "http://127.0.0.1:9/a"), (http_get, "http://127.0.0.1:10/b"),
                  (http_get, "http://example.invalid/c")):
    try:
        call(url)
    except Exception as e:
        print(e)
"""


def test_network_hints_in_exec_name_the_flag(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text(PROGRAM)
    got = codeact_cli("exec", str(program), "--allow-domain", "http://127.0.0.1:9:GET")
    lines = got.stdout.splitlines()
    assert len(lines) == 3, got.stdout + got.stderr
    assert lines[0].endswith("add --allow-domain http://127.0.0.1:9:POST"), lines[0]
    assert lines[1].endswith("add --allow-domain http://127.0.0.1:10:GET"), lines[1]
    assert lines[2].endswith("allow it with --allow-domain example.invalid"), lines[2]
    assert "allowed_domains" not in got.stdout


def test_the_library_keeps_naming_allowed_domains() -> None:
    from codeact import CodeAct

    result = CodeAct(allowed_domains=[("http://127.0.0.1:9", "GET")]).execute_sync(PROGRAM)
    assert "allowed_domains=[('http://127.0.0.1:9', 'POST')]" in result.stdout
    assert "--allow-domain" not in result.stdout
