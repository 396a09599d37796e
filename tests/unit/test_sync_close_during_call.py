"""`close()` on a CodeAct, Session or Agent while another thread is inside `execute_sync` /
`run_sync` waits for that call to end: the call gets its whole result. Was: a bare
`concurrent.futures.CancelledError()` in the calling thread, with no message and no result."""

from __future__ import annotations

import threading
import time

import pytest

from codeact import Agent, CodeAct
from codeact.testing import ScriptedChat, code_call

pytestmark = pytest.mark.usefixtures("wasm_ready")

SLOW = "import time\nprint('started')\ntime.sleep(1.0)\n'done'"


def _close_soon(obj: object, closed: list[float]) -> threading.Thread:
    def closer() -> None:
        time.sleep(0.3)
        obj.close()  # type: ignore[attr-defined]
        closed.append(time.monotonic())

    thread = threading.Thread(target=closer)
    thread.start()
    return thread


def test_closing_a_codeact_during_execute_sync_lets_the_call_finish() -> None:
    codeact = CodeAct()
    codeact.execute_sync("1")  # the loop thread is up
    closed: list[float] = []
    closer = _close_soon(codeact, closed)
    result = codeact.execute_sync(SLOW)
    returned = time.monotonic()
    closer.join(timeout=30)
    assert result.ok and result.value == "done" and result.stdout == "started\n"
    assert closed and closed[0] >= returned - 0.5  # close() waited for the call
    assert codeact.execute_sync("2").value == 2  # usable again after close, as before


def test_closing_a_session_during_execute_sync_lets_the_call_finish() -> None:
    session = CodeAct().session()
    session.execute_sync("x = 1")
    closed: list[float] = []
    closer = _close_soon(session, closed)
    result = session.execute_sync(SLOW + "\nx = 2\n'kept'")
    closer.join(timeout=30)
    assert result.ok and result.value == "kept", result.error
    assert closed
    assert session.execute_sync("x").value == 2


def test_closing_an_agent_during_run_sync_lets_the_run_finish() -> None:
    chat = ScriptedChat(
        [code_call("import time\ntime.sleep(1.0)\nprint('done')"), "It printed done."]
    )
    codeact = CodeAct()
    agent = Agent(client=chat, codeact=codeact)
    codeact.execute_sync("1")
    closed: list[float] = []
    closer = _close_soon(agent, closed)
    result = agent.run_sync("go")
    closer.join(timeout=30)
    assert result.text == "It printed done."
    assert closed
