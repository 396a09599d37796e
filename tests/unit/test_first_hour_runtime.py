"""The library side of issue 12: the sandbox is ready before any limit counts, `prepare()`,
`sys.exit(n)` as `exit_status`, `interrupt()` keeps what the program printed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from codeact import CodeAct, ExecutionResult, Limits, tool
from codeact.sandbox.mock import MockBackend


class SlowToPrepare(MockBackend):
    """A backend whose one-time work takes longer than the programs' wall-time limit."""

    def __init__(self) -> None:
        super().__init__(lambda code, call_tool: 42)
        self.prepared = 0

    def prepare(self) -> None:
        time.sleep(1.5)  # as a cold guest build does, only shorter
        self.prepared += 1


async def test_the_first_execution_waits_for_the_sandbox_and_gets_its_whole_wall_time() -> None:
    backend = SlowToPrepare()
    codeact = CodeAct(backend=backend, limits=Limits(wall_time=0.3))
    results = await asyncio.gather(*(codeact.execute("42") for _ in range(3)))
    assert [(r.ok, r.value) for r in results] == [(True, 42)] * 3, results[0].error
    assert (await codeact.execute("42")).ok
    assert backend.prepared == 1  # once, however many executions waited for it


async def test_prepare_makes_it_ready_up_front() -> None:
    backend = SlowToPrepare()
    codeact = CodeAct(backend=backend, limits=Limits(wall_time=0.3))
    await codeact.prepare()
    await codeact.prepare()
    assert backend.prepared == 1
    assert (await codeact.execute("42")).value == 42


def test_prepare_sync_for_code_without_a_loop() -> None:
    backend = SlowToPrepare()
    with CodeAct(backend=backend, limits=Limits(wall_time=0.3)) as codeact:
        codeact.prepare_sync()
        assert backend.prepared == 1
        assert codeact.execute_sync("42").value == 42


@pytest.mark.usefixtures("wasm_ready")
async def test_sys_exit_is_the_exit_status() -> None:
    codeact = CodeAct(backend="wasm")
    ended = await codeact.execute("print('a')\n1")
    assert ended.ok and ended.exit_status is None
    zero = await codeact.execute("import sys\nprint('a')\nsys.exit(0)")
    assert zero.ok and zero.exit_status == 0 and zero.stdout == "a\n"
    three = await codeact.execute("import sys\nprint('a')\nsys.exit(3)")
    assert not three.ok and three.exit_status == 3 and three.stdout == "a\n"
    assert three.error is not None and three.error.type == "SystemExit"
    assert three.error.message == "the program exited with status 3"
    assert three.error.traceback == ""
    assert "[exited] the program exited with status 3" in three.to_model_text()
    assert three.to_dict()["exit_status"] == 3
    said = await codeact.execute("import sys\nsys.exit('no data')")
    assert said.exit_status == 1 and said.stderr == "no data\n"


def test_exit_status_is_optional_for_results_made_by_hand() -> None:
    assert ExecutionResult(ok=True).exit_status is None


@pytest.mark.usefixtures("wasm_ready")
async def test_python_messages_name_the_python_argument() -> None:
    codeact = CodeAct(backend="wasm")
    result = await codeact.execute(
        "import urllib.request\nurllib.request.urlopen('https://example.com')"
    )
    assert result.error is not None
    assert "allowed_domains=['example.com']" in result.error.traceback
    assert "--allow-domain" not in result.error.traceback
    result = await codeact.execute("import socket\nsocket.socket()")
    assert result.error is not None
    assert "[EACCES] no network in the sandbox; grant hosts with allowed_domains=" in (
        result.error.traceback
    )


@pytest.mark.usefixtures("wasm_ready")
async def test_interrupt_stops_a_slow_tool_call_and_keeps_the_output(tmp_path: Path) -> None:
    called = asyncio.Event()

    @tool
    async def slow() -> str:
        """Take a long time."""
        called.set()
        await asyncio.sleep(60)
        return "late"

    codeact = CodeAct(tools=[slow], backend="wasm")
    running = asyncio.ensure_future(codeact.execute("print('before')\nslow()\nprint('never')"))
    await asyncio.wait_for(called.wait(), 60)
    codeact.interrupt()
    result = await asyncio.wait_for(running, 30)
    assert not result.ok and result.stdout == "before\n"
    assert result.error is not None and result.error.type == "KeyboardInterrupt"
    assert "CodeAct.interrupt()" in result.error.message  # not only "(Ctrl-C)"
    assert (await codeact.execute("1 + 1")).value == 2  # the next one is fine


def _jail_or_skip() -> None:
    from codeact.sandbox.registry import backend_class

    why = backend_class("jail").availability()
    if not why.available:
        pytest.skip(f"jail: {why.reason}")


async def test_jail_tracebacks_hold_no_host_path_of_codeacts_own_code() -> None:
    _jail_or_skip()
    codeact = CodeAct(backend="jail")
    result = await codeact.execute("import no_such_package_xyz")
    assert result.error is not None and result.error.type == "ModuleNotFoundError"
    assert "No module named 'no_such_package_xyz' in the sandbox" in result.error.traceback
    assert "/codeact/" not in result.error.traceback and "child.py" not in result.error.traceback
    result = await codeact.execute("x = (1,\n")
    assert result.error is not None and "ast.py" not in result.error.traceback
    result = await codeact.execute("import sys\nsys.exit(4)")
    assert result.exit_status == 4 and result.error is not None
    assert result.error.message == "the program exited with status 4"
    result = await codeact.execute("import socket\nsocket.socket()")
    assert result.error is not None
    assert "PermissionError: [EACCES] no network in the sandbox" in result.error.traceback


def test_execute_sync_takes_on_event_as_execute_does() -> None:
    from codeact.runtime.events import ExecutionFinished, OutputChunk, ToolCallEnded

    @tool
    def double(x: int) -> int:
        """Twice x."""
        return 2 * x

    events: list[object] = []
    codeact = CodeAct(tools=[double], backend="wasm")
    try:
        result = codeact.execute_sync("print('a')\ndouble(x=2)", on_event=events.append)
    finally:
        codeact.close()
    assert result.value == 4
    kinds = [type(e) for e in events]
    assert OutputChunk in kinds and ToolCallEnded in kinds and kinds[-1] is ExecutionFinished


def test_a_sessions_execute_sync_takes_on_event_and_call_id_as_execute_does() -> None:
    from codeact.runtime.events import ExecutionFinished, ToolCallEnded

    @tool
    def double(x: int) -> int:
        """Twice x."""
        return 2 * x

    events: list[object] = []
    codeact = CodeAct(tools=[double], backend="wasm")
    session = codeact.session()
    try:
        session.execute_sync("y = 3")
        result = session.execute_sync("double(x=y)", on_event=events.append, call_id="call-7")
    finally:
        session.close()
        codeact.close()
    assert result.value == 6
    kinds = [type(e) for e in events]
    assert ToolCallEnded in kinds and kinds[-1] is ExecutionFinished
