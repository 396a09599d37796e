"""An /output file whose name is not UTF-8 (``open(b'/output/x\\xff', 'wb')`` on the jail):
the host reads it as a lone surrogate (``os.fsdecode``), which UTF-8, strict JSON and URLs
cannot hold. Every place that shows or writes out the name escapes its bytes the same way
(``x\\xff``; in a URL, ``x%FF``) instead of failing: before, `to_dict()` (and so
``codeact exec --json``) wrote an unpaired surrogate that strict JSON parsers refuse, and the
MCP server's call failed whole, the program's output and its other files lost."""

from __future__ import annotations

import json

import pytest

from codeact import ExecutionResult, OutputFile
from codeact.sandbox.registry import backend_availability

NAME = b"r\xff\xfe.txt".decode("utf-8", "surrogateescape")  # as the host reads it


def _strict_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")  # an unpaired surrogate raises here
    return text


def test_to_dict_shows_the_names_bytes_escaped_and_is_strict_json() -> None:
    result = ExecutionResult(
        ok=True,
        files=[OutputFile(NAME, "text/plain", b"hi"), OutputFile("ok.txt", "text/plain", b"x")],
        files_skipped=[f"sub/{NAME}: a symbolic link, not returned"],
    )
    data = json.loads(_strict_json(result.to_dict()))
    assert [f["path"] for f in data["files"]] == ["r\\xff\\xfe.txt", "ok.txt"]
    assert data["files_skipped"] == ["sub/r\\xff\\xfe.txt: a symbolic link, not returned"]
    text = result.to_model_text()
    text.encode("utf-8")
    assert "/output/r\\xff\\xfe.txt (text/plain, 2 bytes)" in text  # as to_dict shows it
    assert "sub/r\\xff\\xfe.txt: a symbolic link" in text
    assert result.files[0].path == NAME  # the name itself is kept (--output-dir saves it)


def test_an_mcp_resource_uri_percent_encodes_the_names_own_bytes() -> None:
    pytest.importorskip("mcp", reason="needs the mcp extra")
    from codeact.integrations.mcp.server import _file_content

    content = _file_content(OutputFile(f"sub/{NAME}", "text/plain", b"x"))
    assert content.resource.uri == "codeact://output/sub/r%FF%FE.txt"


def test_a_jail_program_writing_such_a_name_gets_its_result_whole() -> None:
    if not backend_availability("jail").available:
        pytest.skip("the jail backend is not available here")
    from codeact import CodeAct

    with CodeAct(backend="jail") as codeact:
        result = codeact.execute_sync(
            "open(b'/output/r\\xff\\xfe.txt', 'wb').write(b'hi')\n"
            "open('/output/ok.txt', 'w').write('x')\n'done'"
        )
    assert result.ok, result.error
    assert sorted(f.path for f in result.files) == ["ok.txt", NAME]
    data = json.loads(_strict_json(result.to_dict()))
    assert sorted(f["path"] for f in data["files"]) == ["ok.txt", "r\\xff\\xfe.txt"]
