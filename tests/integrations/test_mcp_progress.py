"""serve-mcp tells a client that asked for progress what the program does while it runs."""

from __future__ import annotations

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install 'codeact[mcp]'")

import mcp

from codeact import CodeAct, Limits, tool
from codeact.integrations.mcp_server import build_mcp_server

pytestmark = pytest.mark.usefixtures("wasm_ready")


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return key.upper()


async def test_output_and_calls_arrive_as_progress_before_the_result() -> None:
    codeact = CodeAct(tools=[lookup], backend="wasm", limits=Limits(wall_time=20))
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    async with mcp.Client(build_mcp_server(codeact)) as client:
        result = await client.call_tool(
            "execute_code",
            {"code": "print('step 1')\nlookup(key='a')\nprint('step 2')"},
            progress_callback=on_progress,
        )
    assert not result.is_error
    messages = [m for _, m in progress]
    assert messages[:2] == ["step 1\n", "calling lookup()"]
    assert messages[2].startswith("lookup() ok in ")
    assert messages[3] == "step 2\n"
    assert [v for v, _ in progress] == sorted(v for v, _ in progress)
