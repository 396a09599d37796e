"""The LangChain tool's sync entry point inside a running event loop: the advice names what a
LangChain user holds (the tool), not a codeact object they never made."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core", reason="needs pip install -e '.[langchain]'")

from codeact import UserError
from codeact import tool as codeact_tool
from codeact.integrations.langchain import CodeActTool


@codeact_tool
def square(x: int) -> int:
    """Square a number."""
    return x * x


def test_invoke_inside_a_running_loop_points_at_ainvoke() -> None:
    execute_code = CodeActTool(tools=[square])

    async def main() -> None:
        with pytest.raises(UserError) as caught:
            execute_code.invoke({"code": "square(4)"})
        message = str(caught.value)
        assert "use `await tool.ainvoke(...)` there" in message
        assert "codeact.execute" not in message

    asyncio.run(main())
