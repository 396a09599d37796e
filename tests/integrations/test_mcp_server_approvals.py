"""`codeact serve-mcp --approve ask|all|none`: gated calls are asked through the MCP client
(elicitation), or on the server's terminal, and never run unapproved.

The server is a real `codeact serve-mcp` subprocess; the client is the `mcp` package's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra: pip install -e '.[mcp]'")

import mcp
import mcp_types

from codeact import CodeAct, tool
from codeact.integrations.mcp_approvals import McpApprover
from codeact.integrations.mcp_server import build_mcp_server

from .conftest import mcp_text

pytestmark = pytest.mark.usefixtures("wasm_ready")

TOOLS = str(Path(__file__).parent / "mcp_gated_tools.py")
PROGRAM = """
for to in contacts():
    try:
        print(send_email(to=to))
    except ToolDenied as e:
        print("skipped:", e)
"""
# The stdio client starts the server in a session of its own, without a terminal. This makes
# `tty` (if given) that session's controlling terminal, as a terminal-based client's would be.
WITH_TERMINAL = (
    "import os, sys\n"
    "if os.getsid(0) != os.getpid():\n"
    "    os.setsid()\n"
    "os.close(os.open(sys.argv[1], os.O_RDWR))\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    path = tmp_path / "outbox.txt"
    path.touch()
    return path


def sent(outbox: Path) -> list[str]:
    return outbox.read_text().splitlines()


def server(outbox: Path, *args: str, tty: str | None = None) -> mcp.StdioServerParameters:
    command = ["-m", "codeact", "serve-mcp", "--tools", TOOLS, *args]
    if tty is not None:
        command = ["-c", WITH_TERMINAL, tty, *command]
    return mcp.StdioServerParameters(
        command=sys.executable,
        args=command,
        env={**os.environ, "CODEACT_TEST_OUTBOX": str(outbox)},
    )


def answer(approve: bool, reason: str = "") -> mcp_types.ElicitResult:
    return mcp_types.ElicitResult(action="accept", content={"approve": approve, "reason": reason})


async def run_program(params: Any, **client_options: Any) -> str:
    async with mcp.Client(params, **client_options) as client:
        # Bounded, so that a question nobody answers fails the test instead of hanging it.
        result = await asyncio.wait_for(client.call_tool("execute_code", {"code": PROGRAM}), 120)
    assert not result.is_error, result.content
    return mcp_text(result)


# "legacy": protocol 2025-11-25 and older, where the server asks while the call runs;
# "auto": 2026-07-28, where it ends a round of the call with the question and the client calls
# again with the answer, while the program waits at its gated call.
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_client_is_asked_through_elicitation_and_its_answers_decide(
    outbox: Path, tmp_path: Path, mode: str
) -> None:
    asked: list[str] = []

    async def on_elicit(context: Any, params: Any) -> mcp_types.ElicitResult:
        asked.append(params.message)
        assert params.requested_schema["required"] == ["approve"]
        if "ann@" in params.message:
            return answer(True)
        return answer(False, "not the boss")

    audit = tmp_path / "calls.jsonl"
    params = server(outbox, "--audit", str(audit))
    text = await run_program(params, elicitation_callback=on_elicit, mode=mode)
    assert sent(outbox) == ["ann@example.com"]
    assert text.splitlines() == [
        "sent to ann@example.com",
        "skipped: the call of send_email() was denied: not the boss",
    ]
    assert asked == [
        "codeact: the program wants to call send_email(to='ann@example.com') (after 1 other call)",
        "codeact: the program wants to call send_email(to='boss@example.com') "
        "(after 2 other calls)",
    ]
    # One run of the program, however many rounds: nothing ran twice.
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["name"], r["decision"]) for r in records] == [
        ("contacts", "not_required"),
        ("send_email", "approved"),
        ("send_email", "denied"),
    ]


async def test_a_client_that_cannot_be_asked_gets_denials_that_say_why(outbox: Path) -> None:
    text = await run_program(server(outbox), mode="legacy")  # no elicitation support
    assert sent(outbox) == []
    assert text.count("skipped:") == 2
    assert (
        "nobody could be asked: the MCP client does not support elicitation; start codeact "
        "serve-mcp with --approve ask to ask on the server's terminal, or with --approve all"
    ) in text


async def test_a_question_left_unanswered_stops_the_program_in_rounds() -> None:
    ran: list[str] = []

    @tool(approval_mode="always_require")
    def delete(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return "deleted"

    @tool
    def log(text: str) -> str:
        """Write to the log."""
        ran.append(f"log: {text}")
        return "logged"

    async def slow_person(context: Any, params: Any) -> mcp_types.ElicitResult:
        await asyncio.sleep(3)  # much longer than the approval timeout
        return answer(True)

    program = "try:\n    delete(path='a.txt')\nexcept ToolDenied:\n    pass\nlog(text='after')"
    codeact = CodeAct(tools=[delete, log], approval_handler=McpApprover(), approval_timeout=0.5)
    async with mcp.Client(build_mcp_server(codeact), elicitation_callback=slow_person) as client:
        result = await client.call_tool("execute_code", {"code": program})
    assert result.is_error
    assert "no program is waiting for these answers" in mcp_text(result)
    assert ran == []  # neither the gated call nor anything after it ran


async def test_approve_all_and_none_decide_without_asking_and_audit_every_call(
    outbox: Path, tmp_path: Path
) -> None:
    async def on_elicit(context: Any, params: Any) -> mcp_types.ElicitResult:
        raise AssertionError("--approve all|none asks nobody")

    audit = tmp_path / "calls.jsonl"
    approved = await run_program(
        server(outbox, "--approve", "all", "--audit", str(audit)),
        elicitation_callback=on_elicit,
        mode="legacy",
    )
    denied = await run_program(server(outbox, "--approve", "none"), mode="legacy")
    assert sent(outbox) == ["ann@example.com", "boss@example.com"]
    assert approved.count("sent to") == 2
    assert denied.count("denied by --approve none") == 2
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["name"], r["decision"], r["handler"]) for r in records] == [
        ("contacts", "not_required", None),
        ("send_email", "approved", "cli --approve all"),
        ("send_email", "approved", "cli --approve all"),
    ]


def answer_on_terminal(master: int, answers: list[str], shown: list[str]) -> None:
    """Answer each question that appears on the terminal, in order."""
    screen = ""
    deadline = time.monotonic() + 60
    while answers and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            continue
        try:
            screen += os.read(master, 4096).decode(errors="replace")
        except OSError:
            return
        while "approve? [y/N] " in screen and answers:
            question, _, screen = screen.partition("approve? [y/N] ")
            shown.append(question.strip())
            os.write(master, (answers.pop(0) + "\n").encode())


@pytest.fixture
def terminal() -> Iterator[tuple[int, str]]:
    if not hasattr(os, "openpty"):
        pytest.skip("needs a pseudo-terminal (POSIX)")
    master, slave = os.openpty()
    try:
        # The slave stays open here too: with none open, reading the master fails (EIO).
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


async def test_approve_ask_asks_on_the_servers_terminal_when_the_client_cannot(
    outbox: Path, terminal: tuple[int, str]
) -> None:
    master, tty = terminal
    shown: list[str] = []
    person = threading.Thread(target=answer_on_terminal, args=(master, ["y", "n"], shown))
    person.start()
    try:
        text = await run_program(server(outbox, "--approve", "ask", tty=tty), mode="legacy")
    finally:
        person.join(timeout=60)
    assert sent(outbox) == ["ann@example.com"]
    assert text.splitlines() == [
        "sent to ann@example.com",
        "skipped: the call of send_email() was denied: declined at the terminal",
    ]
    assert shown[0].endswith(
        "the program wants to call send_email(to='ann@example.com') (after 1 other call)"
    )


async def test_approve_ask_without_a_terminal_denies_and_says_so(outbox: Path) -> None:
    # The stdio client starts the server without a controlling terminal.
    text = await run_program(server(outbox, "--approve", "ask"), mode="legacy")
    assert sent(outbox) == []
    assert "this server has no terminal (/dev/tty) to ask on either" in text


async def test_build_mcp_server_with_an_mcp_approver_asks_the_requests_client() -> None:
    ran: list[str] = []

    @tool(approval_mode="always_require")
    def delete(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return "deleted"

    async def on_elicit(context: Any, params: Any) -> mcp_types.ElicitResult:
        return (
            answer(True) if "a.txt" in params.message else mcp_types.ElicitResult(action="decline")
        )

    codeact = CodeAct(tools=[delete], approval_handler=McpApprover())
    async with mcp.Client(
        build_mcp_server(codeact), elicitation_callback=on_elicit, mode="legacy"
    ) as client:
        ok = await client.call_tool("execute_code", {"code": "delete(path='a.txt')"})
        no = await client.call_tool("execute_code", {"code": "delete(path='b.txt')"})
    assert ran == ["a.txt"]
    assert not ok.is_error
    assert no.is_error and "declined by the MCP client's user" in mcp_text(no)


async def test_a_sync_fallback_handler_answers_outside_an_mcp_request() -> None:
    from codeact import ApprovalRequest

    approver = McpApprover(fallback=lambda request: request.tool == "send_email")
    asked = ApprovalRequest(kind="call", tool="send_email", arguments={})
    assert await approver(asked) is True
    assert await approver(ApprovalRequest(kind="call", tool="other", arguments={})) is False
