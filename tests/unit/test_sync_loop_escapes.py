"""A SystemExit or KeyboardInterrupt raised on the sync API's private loop (by an `on_output`
listener, a task a tool started, anything asyncio re-raises out of the loop) reaches every
caller waiting on that loop, at once, and the loop runs on for later calls. An approval
handler's is a failed handler (a denial), with the sync API and the async one alike. Was:
the exception ended the loop's thread, and `execute_sync` waited forever."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from codeact import CodeAct, Limits, tool
from codeact.runtime._sync import LoopThread

ESCAPES = (SystemExit, KeyboardInterrupt)


def _within(seconds: float, fn: Callable[[], Any]) -> tuple[str, Any]:
    """Run `fn` in a thread: ("value", v) or ("raised", exc); fails on a hang."""
    out: list[tuple[str, Any]] = []

    def target() -> None:
        try:
            out.append(("value", fn()))
        except BaseException as exc:  # what we are looking for
            out.append(("raised", exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, f"no answer within {seconds}s: the caller hangs"
    return out[0]


@pytest.mark.parametrize("escape", ESCAPES)
def test_an_escape_from_the_loop_reaches_every_waiting_caller(
    escape: type[BaseException],
) -> None:
    thread = LoopThread(name="codeact-test-escape")
    try:
        other = thread.submit(asyncio.sleep(60))  # another caller, waiting

        async def raises_from_a_callback() -> None:
            asyncio.get_running_loop().call_soon(_raise, escape)
            await asyncio.sleep(60)

        kind, exc = _within(30, lambda: thread.run(raises_from_a_callback()))
        assert kind == "raised" and type(exc) is escape
        assert type(other.exception(timeout=30)) is escape
        assert _within(30, lambda: thread.run(asyncio.sleep(0, "still runs"))) == (
            "value",
            "still runs",
        )
    finally:
        thread.stop_soon()  # close() would wait for the calls, forever if they hang


def _raise(escape: type[BaseException]) -> None:
    raise escape()


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize("escape", ESCAPES)
def test_execute_sync_raises_what_an_output_listener_raised(
    escape: type[BaseException],
) -> None:
    codeact = CodeAct(limits=Limits(wall_time=10))
    try:

        def on_output(chunk: object) -> None:
            raise escape()

        kind, exc = _within(
            30, lambda: codeact.execute_sync("print('hi')\n'end'", on_output=on_output)
        )
        assert kind == "raised" and type(exc) is escape
        # The same CodeAct (and its loop) serves the next call.
        kind, result = _within(30, lambda: codeact.execute_sync("1 + 1"))
        assert kind == "value" and result.value == 2
    finally:
        _within(30, codeact.close)


@tool(approval_mode="always_require")
def send(to: str) -> str:
    """Send it."""
    return "sent " + to


PROGRAM = "try:\n    send(to='a')\nexcept Exception as e:\n    r = str(e)\nr"


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize("api", ["sync", "async"])
@pytest.mark.parametrize("escape", ESCAPES)
def test_an_approval_handler_that_raises_an_escape_denies_the_call(
    escape: type[BaseException], api: str
) -> None:
    async def handler(request: object) -> bool:
        raise escape()

    limits = Limits(wall_time=10, approval_wait=5)
    codeact = CodeAct(tools=[send], approval_handler=handler, limits=limits)
    try:
        if api == "sync":
            kind, result = _within(30, lambda: codeact.execute_sync(PROGRAM))
        else:
            kind, result = _within(30, lambda: asyncio.run(codeact.execute(PROGRAM)))
        assert kind == "value", result
        assert result.ok, result.error
        assert result.value == (
            f"the call of send() was denied: the approval handler failed ({escape.__name__})"
        )
        assert result.tool_calls[0].decision == "denied"
        kind, result = _within(30, lambda: codeact.execute_sync("1 + 1"))
        assert kind == "value" and result.value == 2
    finally:
        _within(30, codeact.close)
