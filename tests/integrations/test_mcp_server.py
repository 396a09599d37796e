"""`codeact serve-mcp`: a real MCP client lists and calls execute_code over stdio and HTTP."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install -e '.[mcp]'")

import mcp
import mcp_types

from codeact import CodeAct, ConfigurationError, Limits, tool
from codeact.integrations.mcp_server import (
    build_mcp_server,
    execute_code_description,
    parse_http_address,
)
from codeact.workloads import order_totals

from .conftest import free_port, mcp_text, stop, wait_for_port

pytestmark = pytest.mark.usefixtures("wasm_ready")

TOOLS = "codeact.workloads.order_totals:TOOLS"


def serve_mcp_stdio(*args: str) -> mcp.StdioServerParameters:
    return mcp.StdioServerParameters(
        command=sys.executable, args=["-m", "codeact", "serve-mcp", "--tools", TOOLS, *args]
    )


async def test_stdio_client_lists_execute_code_with_the_instructions_and_the_tool_stubs() -> None:
    async with mcp.Client(serve_mcp_stdio()) as client:
        listing = await client.list_tools()
    assert [t.name for t in listing.tools] == ["execute_code"]
    tool_spec = listing.tools[0]
    description = tool_spec.description or ""
    assert "- get_orders_for_user(user_id: int)" in description  # a line for each host tool
    assert "Do the whole task in ONE `execute_code` call" in description  # the instructions
    assert tool_spec.input_schema["required"] == ["code"]
    assert tool_spec.input_schema["properties"]["code"]["type"] == "string"


async def test_stdio_client_runs_the_order_totals_program() -> None:
    async with mcp.Client(serve_mcp_stdio()) as client:
        result = await client.call_tool("execute_code", {"code": order_totals.PROGRAM})
    assert not result.is_error
    text = mcp_text(result)
    assert order_totals.check_answer(text), text


async def test_failures_and_limits_come_back_as_error_results() -> None:
    async with mcp.Client(serve_mcp_stdio("--timeout", "1")) as client:
        failed = await client.call_tool("execute_code", {"code": "x = 1\nx / 0"})
        stopped = await client.call_tool("execute_code", {"code": "while True:\n    pass"})
        fine = await client.call_tool("execute_code", {"code": "get_tax_rate('EU')"})
    assert failed.is_error
    assert "ZeroDivisionError" in mcp_text(failed)
    assert "line 2" in mcp_text(failed)
    assert stopped.is_error
    assert "wall_time=1s" in mcp_text(stopped)
    assert not fine.is_error and "0.21" in mcp_text(fine)


async def test_a_value_with_lone_surrogates_comes_back_escaped_not_as_a_broken_reply() -> None:
    """A program's value or error may hold lone surrogates, which the MCP reply (JSON in
    UTF-8) cannot: the client gets the result with them escaped, and the server goes on
    (before, the reply could not be written and the client waited forever)."""

    async def calls() -> list[Any]:
        async with mcp.Client(serve_mcp_stdio()) as client:
            codes = ["'a\\ud800b'", "raise ValueError('\\udfff')", "1 + 1"]
            return [await client.call_tool("execute_code", {"code": code}) for code in codes]

    value, error, after = await asyncio.wait_for(calls(), timeout=60)
    assert "a\\ud800b" in mcp_text(value)
    assert error.is_error and "ValueError: \\udfff" in mcp_text(error)
    assert "2" in mcp_text(after)


async def test_grants_and_output_files_work_as_in_codeact_exec(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "in.txt").write_text("from the host")
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "away").symlink_to(workspace)
    params = serve_mcp_stdio("--workspace", str(workspace), "--output-dir", str(saved))
    async with mcp.Client(params) as client:
        listing = await client.list_tools()
        result = await client.call_tool(
            "execute_code",
            {
                "code": "text = open('/input/in.txt').read()\n"
                "open('/output/out.txt', 'w').write(text.upper())\n"
                "text"
            },
        )
        again = await client.call_tool(
            "execute_code",
            {
                "code": "import os\nos.makedirs('/output/away')\n"
                "open('/output/away/x.txt', 'w').write('no')\n"
                "open('/output/out.txt', 'w').write('second')\n1"
            },
        )
    # A second run's file of the same name is saved beside the first; one that would go
    # out of DIR through a link is not saved, and the call still succeeds with its files.
    assert not again.is_error, again.content
    assert (saved / "out (2).txt").read_text() == "second"
    assert not (workspace / "x.txt").exists()
    assert "/input" in (listing.tools[0].description or "")
    assert not result.is_error, result.content
    assert '"from the host"' in mcp_text(result, 0)
    _, resource = result.content
    assert resource.type == "resource"
    assert resource.resource.uri == "codeact://output/out.txt"
    assert isinstance(resource.resource, mcp_types.BlobResourceContents), resource.resource
    assert base64.b64decode(resource.resource.blob) == b"FROM THE HOST"
    assert (saved / "out.txt").read_text() == "FROM THE HOST"


@pytest.fixture
def http_server() -> Iterator[tuple[int, str]]:
    """`codeact serve-mcp --http` on a free port; yields the port and its first stderr line."""
    port = free_port()
    command = [sys.executable, "-m", "codeact", "serve-mcp", "--tools", TOOLS]
    process = subprocess.Popen(
        [*command, "--http", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process)
        assert process.stderr is not None
        yield port, process.stderr.readline()  # printed before it starts serving
    finally:
        stop(process)


async def test_streamable_http_client_lists_and_calls_execute_code(
    http_server: tuple[int, str],
) -> None:
    port, banner = http_server
    async with mcp.Client(f"http://127.0.0.1:{port}/mcp") as client:
        listing = await client.list_tools()
        result = await client.call_tool(
            "execute_code", {"code": "[u['id'] for u in list_users()][:3]"}
        )
    assert [t.name for t in listing.tools] == ["execute_code"]
    assert not result.is_error
    assert "[1, 2, 3]" in mcp_text(result)
    assert f"serving execute_code at http://127.0.0.1:{port}/mcp" in banner


async def test_built_server_in_process_uses_the_codeacts_tools_and_limits() -> None:
    calls: list[str] = []

    @tool
    async def greet(name: str) -> str:
        """Say hello."""
        calls.append(name)
        return f"hello {name}"

    codeact = CodeAct(tools=[greet], limits=Limits(wall_time=10, tool_calls=2))
    server = build_mcp_server(codeact, name="test")
    async with mcp.Client(server) as client:
        listing = await client.list_tools()
        ok = await client.call_tool("execute_code", {"code": "greet('a') + ', ' + greet(name='b')"})
        over = await client.call_tool("execute_code", {"code": "[greet('x') for _ in range(3)]"})
    assert listing.tools[0].description == execute_code_description(codeact)
    assert "- greet(name: str) -> str:" in (listing.tools[0].description or "")
    assert not ok.is_error and "hello a, hello b" in mcp_text(ok)
    assert over.is_error and "tool_calls=2" in mcp_text(over)
    assert calls == ["a", "b", "x", "x"]


def test_http_address_forms() -> None:
    assert parse_http_address("127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert parse_http_address(":9000") == ("127.0.0.1", 9000)
    assert parse_http_address("9001") == ("127.0.0.1", 9001)
    assert parse_http_address("[::1]:9002") == ("::1", 9002)
    with pytest.raises(ConfigurationError, match="HOST:PORT"):
        parse_http_address("localhost:http")
    with pytest.raises(ConfigurationError, match="between 1 and 65535"):
        parse_http_address("127.0.0.1:70000")


def test_cli_rejects_a_bad_address_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codeact", "serve-mcp", "--tools", TOOLS, "--http", "nowhere:x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("codeact: error: --http takes HOST:PORT")
    assert "Traceback" not in proc.stderr


def test_an_output_files_resource_uri_is_percent_encoded() -> None:
    from codeact.bridge.protocol import OutputFile
    from codeact.integrations.mcp.server import _file_content

    content = _file_content(OutputFile("sub/a b#c?\x1b.txt", "text/plain", b"x"))
    assert content.resource.uri == "codeact://output/sub/a%20b%23c%3F%1B.txt"


@pytest.mark.parametrize(("cap", "overlap"), [(1, 1), (2, 2)])
async def test_max_concurrent_caps_programs_running_at_once(cap: int, overlap: int) -> None:
    running = [0, 0]  # now, most at once

    @tool
    async def slow() -> str:
        """Take a while."""
        running[0] += 1
        running[1] = max(running)
        await asyncio.sleep(0.3)
        running[0] -= 1
        return "done"

    server = build_mcp_server(CodeAct(tools=[slow]), name="test", max_concurrent=cap)
    async with mcp.Client(server) as client:
        results = await asyncio.gather(
            *(client.call_tool("execute_code", {"code": "slow()"}) for _ in range(2))
        )
    assert all(not r.is_error and "done" in mcp_text(r) for r in results)  # waited, not refused
    assert running[1] == overlap


async def test_a_file_name_that_is_not_utf8_does_not_fail_the_call() -> None:
    # Before, quoting the name raised: the client got only "Error executing tool", the
    # program's output and its other files were lost, and on_files never ran.
    from codeact.sandbox.registry import backend_availability

    if not backend_availability("jail").available:
        pytest.skip("only the jail lets a program make such a name")
    saved: list[list[str]] = []
    with CodeAct(backend="jail") as codeact:
        server = build_mcp_server(codeact, on_files=lambda fs: saved.append([f.path for f in fs]))
        async with mcp.Client(server) as client:
            result = await client.call_tool(
                "execute_code",
                {
                    "code": "print('result 42')\nopen('/output/ok.txt', 'w').write('a')\n"
                    "open(b'/output/x\\xff', 'wb').write(b'!')"
                },
            )
    assert not result.is_error, result.content
    text = mcp_text(result, 0)
    assert "result 42" in text
    assert "/output/x\\xff (application/octet-stream, 1 bytes)" in text
    uris = sorted(
        str(c.resource.uri) for c in result.content if isinstance(c, mcp_types.EmbeddedResource)
    )
    assert uris == ["codeact://output/ok.txt", "codeact://output/x%FF"]
    assert saved == [["ok.txt", "x\udcff"]]
