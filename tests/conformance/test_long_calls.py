"""A call's name or arguments, however long, fail only the call, alike on every backend (the
jail's channel frames included: the guest cuts them to what the host refuses anyway)."""

from __future__ import annotations

from collections.abc import Callable

from codeact import CodeAct, Limits, tool

_CATCH = "try:\n    {call}\nexcept ToolError as e:\n    print('caught', str(e)[:300])\n'went on'"


async def test_a_huge_name_or_arguments_fail_only_the_call(
    make_codeact: Callable[..., CodeAct],
) -> None:
    @tool
    def echo(x: str = "") -> int:
        """Its argument's length."""
        return len(x)

    limits = Limits(wall_time=20, tool_argument_bytes=256 * 1024)
    codeact = make_codeact(tools=[echo], limits=limits)
    for call in ["call_tool('a' * (9 << 20))", "echo(x='a' * (1 << 20))"]:
        result = await codeact.execute(_CATCH.format(call=call))
        assert result.ok and result.value == "went on", (call, result.error)
        assert "caught" in result.stdout
    result = await codeact.execute("echo(x='a' * (200 * 1024))")  # within the limit
    assert result.ok and result.value == 200 * 1024, result.error
