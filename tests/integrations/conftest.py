"""Shared by the integration tests: MCP demo servers and results, free ports."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mcp_types import CallToolResult

HERE = Path(__file__).parent
DEMO_SERVER = HERE / "mcp_demo_server.py"


def demo_server_command(kind: str) -> list[str]:
    """The command that starts the demo MCP server `kind` ("weather" or "geo") over stdio."""
    return [sys.executable, str(DEMO_SERVER), kind]


def mcp_text(result: CallToolResult, index: int = 0) -> str:
    """The text of the result's content block `index`, which the test expects to be text."""
    from mcp_types import TextContent  # the mcp extra, which the MCP tests require

    block = result.content[index]
    assert isinstance(block, TextContent), block
    return block.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, process: subprocess.Popen[str], timeout: float = 60.0, host: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early: {process.communicate()[1][-2000:]}")
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on {host}:{port} within {timeout}s")


def stop(process: subprocess.Popen[str]) -> str:
    """Stop a server started by a test and return its stderr."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.communicate(timeout=15)[1] or ""
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1] or ""


@contextlib.contextmanager
def serving_mcp_over_http(*args: str) -> Iterator[int]:
    """`codeact serve-mcp --tools TOOLS ARGS --http 127.0.0.1:PORT`, up; yields the port."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "codeact", "serve-mcp", "--tools", "codeact.workloads.order_totals:TOOLS"),
            *args,
            *("--http", f"127.0.0.1:{port}"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        stop(process)


@pytest.fixture
def http_demo_server() -> Iterator[str]:
    """The weather demo server over streamable HTTP on 127.0.0.1; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [*demo_server_command("weather"), "--http", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)
