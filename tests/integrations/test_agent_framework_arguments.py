"""Agent Framework passes its runtime keyword arguments to a function that takes ``**kwargs``;
a program cannot pass them, nor any name the tool's schema does not declare."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("agent_framework", reason="needs pip install -e '.[agent-framework]'")

from agent_framework import tool

from codeact.integrations.agent_framework import ExecuteCodeTool

pytestmark = pytest.mark.usefixtures("wasm_ready")


@tool
def account(field: str, **kwargs: Any) -> str:
    """A field of the signed-in account."""
    return f"{field} {sorted(kwargs)}"


async def test_a_program_cannot_pass_what_the_framework_passes_as_keywords() -> None:
    code = "try:\n    account(field='x', session='forged')\nexcept ToolError as e:\n    print(e)"
    result = await ExecuteCodeTool(tools=[account]).run(code + "\nprint(account(field='y'))")
    assert "invalid arguments for account(): unexpected argument 'session'" in result.stdout
    assert "y [" in result.stdout  # called as the schema says, it runs
