"""An adapter runs at most four programs at once, as codeact's own `Agent` does.

A model reply with a dozen ``execute_code`` calls made LangGraph's tool node start a dozen
sandboxes at once (each may hold ``Limits.memory_mb`` and its output). Here the framework's
own loop runs ten calls of one reply; a host tool counts how many programs run at the same
time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="needs pip install -e '.[langchain]'")
pytest.importorskip("langgraph", reason="needs pip install -e '.[langchain]'")
pytest.importorskip("langchain.agents", reason="needs pip install -e '.[langchain]'")

from langchain.agents import create_agent
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from codeact import Limits, tool
from codeact.integrations._program_gate import ADAPTER_PROGRAMS
from codeact.integrations.langchain import CodeActTool

pytestmark = pytest.mark.usefixtures("wasm_ready")

CALLS = 10


class Overlap:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.calls = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def slow_tool(overlap: Overlap) -> Any:
    @tool
    def slow(i: int) -> int:
        """Wait a little and return i."""
        overlap.enter()
        try:
            time.sleep(0.3)
        finally:
            overlap.leave()
        return i

    return slow


class ManyCalls(BaseChatModel):
    """Calls execute_code CALLS times in one reply; then answers."""

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        if isinstance(messages[-1], ToolMessage):
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content="done"))])
        calls = [
            {"name": "execute_code", "args": {"code": f"slow(i={i})"}, "id": f"call-{i}"}
            for i in range(CALLS)
        ]
        return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=calls))])

    def bind_tools(self, tools: Any, **kwargs: Any) -> ManyCalls:
        return self

    @property
    def _llm_type(self) -> str:
        return "many-calls"


async def test_langgraphs_tool_node_runs_at_most_four_programs_at_once() -> None:
    overlap = Overlap()
    execute_code = CodeActTool(tools=[slow_tool(overlap)])
    agent = create_agent(ManyCalls(), [execute_code])
    state = await agent.ainvoke({"messages": [("user", "go")]})
    answers = [m.content for m in state["messages"] if isinstance(m, ToolMessage)]
    assert sorted(answers) == sorted(f"[value] {i}" for i in range(CALLS))  # every call answered
    assert overlap.calls == CALLS
    assert overlap.most == ADAPTER_PROGRAMS  # was CALLS: all of them at once


def test_sync_callers_on_threads_share_the_bound() -> None:
    overlap = Overlap()
    execute_code = CodeActTool(tools=[slow_tool(overlap)])
    answers: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda i=i: answers.append(execute_code.invoke({"code": f"slow(i={i})"}))
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == sorted(f"[value] {i}" for i in range(8))
    assert overlap.most <= ADAPTER_PROGRAMS


async def test_a_program_run_from_a_tool_of_a_program_runs_in_its_parents_turn() -> None:
    """A tool that runs another program through the same adapter (a sub-agent sharing it):
    four parents held every turn and each waited for one for its child, until their tool
    timeout."""
    holder: list[CodeActTool] = []

    @tool
    async def sub_task(text: str) -> str:
        """Run a helper program for `text`."""
        return str(await holder[0].ainvoke({"code": f"print({text!r}.upper())"}))

    execute_code = CodeActTool(tools=[sub_task], limits=Limits(tool_timeout=20))
    holder.append(execute_code)
    programs = [
        execute_code.ainvoke({"code": f"print(sub_task(text='job{i}'))"})
        for i in range(ADAPTER_PROGRAMS + 1)
    ]
    answers = await asyncio.wait_for(asyncio.gather(*programs), 60)
    assert all(f"JOB{i}" in str(a) for i, a in enumerate(answers)), answers
