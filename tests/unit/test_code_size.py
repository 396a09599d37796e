"""`Limits.code_bytes`: a program larger than it is refused before anything reads it.

A model (or a caller) can send a program of any size; the host parses it for the block
approval's scan and the agent's checks, and the sandbox compiles it. One of 976 KiB cost 21.7 s
and 1.2 GB through `Agent`. Past the limit nothing reads it: not the scan, not an approval
handler, not the backend.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

from codeact import Agent, Approval, CodeAct, ConfigurationError, Limits, MockBackend, tool
from codeact.agent import programs
from codeact.agent.programs import CHECKED_CHARS, same_program
from codeact.bridge import stops
from codeact.testing import ScriptedChat, code_call


@tool(approval_mode="always_require")
def send(to: str) -> str:
    """Send something."""
    return to


def _codeact(ran: list[str], **kwargs: object) -> CodeAct:
    def handler(code: str, call_tool: object) -> int:
        ran.append(code)
        return 1

    return CodeAct(backend=MockBackend(handler), **kwargs)  # type: ignore[arg-type]


async def test_a_program_over_the_limit_is_not_run_nor_shown_for_approval() -> None:
    ran: list[str] = []
    asked: list[object] = []

    def approve(request: object) -> Approval:
        asked.append(request)
        return Approval.approve()

    codeact = _codeact(
        ran,
        tools=[send],
        limits=Limits(code_bytes=1000),
        approval_handler=approve,
        approval_mode="always_require",
    )
    result = await codeact.execute("send('a')\n" + "# pad\n" * 200)
    assert not result.ok and result.error is not None
    assert (result.error.type, result.error.limit) == ("LimitExceeded", "code")
    assert "1,210 characters" in result.error.message
    assert "Limits.code_bytes=1000 bytes" in result.error.message
    assert ran == [] and asked == [] and result.tool_calls == []
    assert set(result.timings) >= {"setup_ms", "run_ms", "total_ms"}
    # At the limit it runs.
    assert (await codeact.execute("send('a')\n" + "#" * 990)).ok and len(ran) == 1


async def test_the_limit_counts_utf8_bytes() -> None:
    ran: list[str] = []
    codeact = _codeact(ran, limits=Limits(code_bytes=100))
    result = await codeact.execute("'" + "é" * 60 + "'")  # 62 characters, 122 bytes
    assert result.error is not None and result.error.limit == "code"
    assert "122 bytes" in result.error.message
    assert (await codeact.execute("'" + "é" * 40 + "'")).ok  # 82 bytes


async def test_a_session_keeps_its_state_when_a_program_is_too_large() -> None:
    codeact = CodeAct(limits=Limits(code_bytes=200, wall_time=20))
    session = codeact.session()
    assert (await session.execute("a = 5")).ok
    refused = await session.execute("a = 6\n" + "#" * 300)
    assert refused.error is not None and refused.error.limit == "code"
    assert (await session.execute("a")).value == 5


def test_the_limit_is_checked_and_shown() -> None:
    assert Limits().code_bytes == 1 << 20
    assert repr(Limits(code_bytes=2048)).endswith("code_bytes=2 KiB)")
    with pytest.raises(ConfigurationError, match=r"Limits\.code_bytes must be between 16"):
        Limits(code_bytes=0)


def test_the_size_is_exact_and_never_encodes_a_huge_program() -> None:
    limits = Limits(code_bytes=16)
    assert stops.code_size("x = 1", limits) is None
    assert stops.code_size("é" * 9, limits) == "18 bytes"
    assert stops.code_size("é" * 8, limits) is None
    assert stops.code_size("x" * 17, limits) == "17 characters"


async def test_the_agent_runs_a_long_program_without_parsing_it_on_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each of the agent's checks parsed and walked the program on the event loop: seconds
    # for a program near the size limit, with the loop blocked all that time.
    parsed: list[int] = []
    real = ast.parse

    def counting(source: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(len(source))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting)
    ran: list[str] = []
    codeact = _codeact(ran)
    long_program = "x = 1\n" * (CHECKED_CHARS // 6 + 10)
    too_long = "x = 1\n" * (Limits().code_bytes // 6 + 10)
    chat = ScriptedChat([code_call(long_program), code_call(too_long), "done", "done", "done"])
    result = await Agent(client=chat, codeact=codeact).run("go")
    assert result.text == "done" and ran == [long_program]
    assert parsed == []
    refusal = chat.requests[2].messages[-1].content or ""
    assert "Limits.code_bytes=1 MiB" in refusal
    assert len(same_program(long_program)) == 64  # a digest, not a dump several times its size
    assert same_program("x  =  1") == same_program("x = 1")  # short ones: by their tree
    assert Limits().code_bytes >= programs.CHECKED_CHARS
