"""`Agent(on_program_event=...)`: a person watching an agent sees each program's output as it
is written and its tool calls as they happen, told apart by the model's call id (before,
an `Agent` gave only `progress=` lines after each program had ended)."""

from __future__ import annotations

import time

import pytest

from codeact import Agent, CodeAct, ConfigurationError, tool
from codeact.runtime.events import ExecutionEvent, ExecutionFinished, OutputChunk, ToolCallEnded
from codeact.testing import ScriptedChat, code_call, reply

pytestmark = pytest.mark.usefixtures("wasm_ready")


@tool
def price(item: str) -> float:
    """The price of an item."""
    return {"apple": 0.5, "pear": 0.75}[item]


async def test_each_programs_events_come_live_with_its_call_id() -> None:
    first = code_call(
        "import time\nprint('first', flush=True)\ntime.sleep(0.5)\nprice(item='apple')"
    )
    second = code_call("print(price(item='pear'))")
    seen: list[tuple[float, str, ExecutionEvent]] = []
    agent = Agent(
        client=ScriptedChat([reply(None, first, second), "first; a pear is 0.75"]),
        codeact=CodeAct(tools=[price], backend="wasm"),
        on_program_event=lambda call_id, event: seen.append((time.monotonic(), call_id, event)),
    )
    try:
        result = await agent.run("prices?")
    finally:
        await agent.aclose()
    assert result.text == "first; a pear is 0.75"
    by_call: dict[str, list[ExecutionEvent]] = {}
    for _, call_id, event in seen:
        by_call.setdefault(call_id, []).append(event)
    assert set(by_call) == {first.id, second.id}
    for events in by_call.values():
        assert isinstance(events[-1], ExecutionFinished), events
        assert sum(isinstance(e, ToolCallEnded) for e in events) == 1, events
    printed = {
        cid: "".join(e.text for e in ev if isinstance(e, OutputChunk))
        for cid, ev in by_call.items()
    }
    assert printed == {first.id: "first\n", second.id: "0.75\n"}
    # 'first' came while its program still slept, not with its end
    came = next(t for t, cid, e in seen if cid == first.id and isinstance(e, OutputChunk))
    ended = next(t for t, cid, e in seen if cid == first.id and isinstance(e, ExecutionFinished))
    assert ended - came > 0.3


def test_an_async_listener_is_refused_up_front() -> None:
    async def listener(call_id: str, event: ExecutionEvent) -> None:
        pass

    with pytest.raises(ConfigurationError, match="not an async one"):
        Agent(client=ScriptedChat(["x"]), codeact=CodeAct(), on_program_event=listener)
