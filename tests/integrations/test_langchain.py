"""The LangChain tool, driven by LangChain's agent loop (``langchain.agents.create_agent``) and a
scripted chat model; one test runs it in LangGraph's older ``create_react_agent`` too.

The sandbox is real; only the model is scripted: it calls ``execute_code`` with a program, reads
the ToolMessage and finishes with its content as the final answer.
"""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Any
from uuid import UUID

import pytest

pytest.importorskip("langchain_core", reason="needs pip install -e '.[langchain]'")
pytest.importorskip("langgraph", reason="needs pip install -e '.[langchain]'")
pytest.importorskip("langchain.agents", reason="needs pip install -e '.[langchain]'")

from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import InjectedToolCallId, StructuredTool, ToolException, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import create_react_agent
from langgraph.types import Command
from langgraph.warnings import LangGraphDeprecatedSinceV10
from pydantic import Field

from codeact import ConfigurationError, Limits
from codeact import tool as codeact_tool
from codeact.integrations.langchain import CodeActTool

pytestmark = pytest.mark.usefixtures("wasm_ready")

PROGRAM = 'w = get_weather(city="Paris")\nround(to_fahrenheit(celsius=w["temp_c"]), 1)'
SENT: list[str] = []


@tool
def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"city": city, "temp_c": 21.5}


@tool
def to_fahrenheit(celsius: float) -> float:
    """Celsius to Fahrenheit."""
    return celsius * 9 / 5 + 32


@tool
def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return "sent"


class ScriptedChatModel(BaseChatModel):
    """Calls execute_code with `code`; after a ToolMessage, answers with its content."""

    code: str
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        last = messages[-1]
        if isinstance(last, ToolMessage):
            message = AIMessage(content=f"answer ({last.status}): {last.content}")
        else:
            call = {"name": "execute_code", "args": {"code": self.code}, "id": "call-1"}
            message = AIMessage(content="", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self

    @property
    def _llm_type(self) -> str:
        return "scripted"


class ToolRuns(BaseCallbackHandler):
    def __init__(self) -> None:
        self.runs: list[tuple[str, UUID, UUID | None]] = []

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self.runs.append((serialized["name"], run_id, parent_run_id))


def agent_for(code: str, execute_code: CodeActTool) -> Any:
    """A LangChain agent as the README makes one; the checkpointer lets a gated call's
    interrupt() pause the graph and Command(resume=...) go on from there."""
    model = ScriptedChatModel(code=code, seen=[])
    agent = create_agent(
        model, [execute_code], system_prompt=execute_code.instructions, checkpointer=InMemorySaver()
    )
    return agent, model


async def test_agent_runs_a_program_that_calls_two_tools() -> None:
    execute_code = CodeActTool(tools=[get_weather, to_fahrenheit], limits=Limits(wall_time=20))
    agent, model = agent_for(PROGRAM, execute_code)
    runs = ToolRuns()
    config = {"configurable": {"thread_id": "1"}, "callbacks": [runs]}
    state = await agent.ainvoke({"messages": [("user", "How warm is Paris in F?")]}, config)
    assert state["messages"][-1].content == "answer (success): [value] 70.7"
    assert model.seen[0][0].content == execute_code.instructions
    # Callbacks see the nested calls as child runs of execute_code.
    (outer,) = [r for r in runs.runs if r[0] == "execute_code"]
    nested = [(name, parent) for name, _, parent in runs.runs if name != "execute_code"]
    assert nested == [("get_weather", outer[1]), ("to_fahrenheit", outer[1])]


async def test_failing_program_is_an_error_tool_message_and_the_agent_goes_on() -> None:
    execute_code = CodeActTool(tools=[get_weather])
    agent, _ = agent_for('get_weather(city="Paris")\n1 / 0', execute_code)
    state = await agent.ainvoke(
        {"messages": [("user", "go")]}, {"configurable": {"thread_id": "2"}}
    )
    tool_message = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "error"
    assert "ZeroDivisionError" in tool_message.content
    assert state["messages"][-1].content.startswith("answer (error):")


async def test_stopped_program_says_which_limit_stopped_it() -> None:
    execute_code = CodeActTool(tools=[get_weather], limits=Limits(wall_time=1))
    agent, _ = agent_for("while True:\n    pass", execute_code)
    state = await agent.ainvoke(
        {"messages": [("user", "go")]}, {"configurable": {"thread_id": "3"}}
    )
    assert "[stopped]" in state["messages"][-1].content
    assert "wall" in state["messages"][-1].content


async def test_gated_call_interrupts_the_graph_and_a_denial_is_reported() -> None:
    SENT.clear()
    execute_code = CodeActTool(tools=[get_weather, send_email], require_approval=["send_email"])
    agent, _ = agent_for('send_email(to="a@example.com", body="hi")', execute_code)
    config = {"configurable": {"thread_id": "4"}}
    paused = await agent.ainvoke({"messages": [("user", "mail a")]}, config)
    (interrupt,) = paused["__interrupt__"]
    assert interrupt.value["gated_calls"] == {"send_email": 1}
    assert SENT == []
    state = await agent.ainvoke(Command(resume={"approved": False, "reason": "not today"}), config)
    assert SENT == []
    assert state["messages"][-1].content.startswith("answer (error): [denied]")
    assert "not today" in state["messages"][-1].content


async def test_approved_program_runs_its_gated_call_once() -> None:
    SENT.clear()
    execute_code = CodeActTool(tools=[send_email], require_approval=["send_email"])
    agent, _ = agent_for('send_email(to="a@example.com", body="hi")', execute_code)
    config = {"configurable": {"thread_id": "5"}}
    await agent.ainvoke({"messages": [("user", "mail a")]}, config)
    state = await agent.ainvoke(Command(resume=True), config)
    assert state["messages"][-1].content == 'answer (success): [value] "sent"'
    assert SENT == ["a@example.com"]


def test_sync_graph_interrupts_too_and_runs_once_approved() -> None:
    SENT.clear()
    execute_code = CodeActTool(tools=[send_email], require_approval=["send_email"])
    agent, _ = agent_for('send_email(to="c@example.com", body="hi")', execute_code)
    config = {"configurable": {"thread_id": "6"}}
    paused = agent.invoke({"messages": [("user", "mail c")]}, config)
    assert paused["__interrupt__"]
    assert SENT == []
    state = agent.invoke(Command(resume=True), config)
    assert state["messages"][-1].content == 'answer (success): [value] "sent"'
    assert SENT == ["c@example.com"]


async def test_outside_a_graph_codeacts_approval_handler_decides() -> None:
    from codeact import DenyAll

    SENT.clear()
    execute_code = CodeActTool(
        tools=[send_email], require_approval=["send_email"], approval_handler=DenyAll()
    )
    message = await execute_code.ainvoke(
        {
            "name": "execute_code",
            "args": {"code": 'send_email(to="b", body="x")'},
            "id": "c",
            "type": "tool_call",
        }
    )
    assert message.status == "error"
    assert "ToolDenied" in message.content
    assert SENT == []


def test_sync_invoke_runs_a_program() -> None:
    execute_code = CodeActTool(tools=[get_weather])
    assert execute_code.invoke({"code": 'get_weather(city="Rome")["city"]'}) == '[value] "Rome"'


async def test_tools_added_later_and_codeact_tools_keep_their_gate() -> None:
    """require_approval holds for a tool given to add_tools() and for a codeact Tool."""
    SENT.clear()

    @codeact_tool
    def archive(name: str) -> str:
        """Archive a mailbox."""
        SENT.append("archive " + name)
        return "archived"

    execute_code = CodeActTool(tools=[get_weather], require_approval=["send_email", "archive"])
    execute_code.add_tools(send_email, archive)
    code = 'send_email(to="a@example.com", body="hi")\narchive(name="inbox")'
    agent, _ = agent_for(code, execute_code)
    config = {"configurable": {"thread_id": "7"}}
    paused = await agent.ainvoke({"messages": [("user", "mail a")]}, config)
    (interrupt,) = paused["__interrupt__"]
    assert interrupt.value["gated_calls"] == {"send_email": 1, "archive": 1}
    assert SENT == []


async def test_a_tool_that_handles_its_errors_still_raises_in_the_program() -> None:
    def balance(account: str) -> float:
        """The balance of an account."""
        raise ToolException(f"account {account} not found")

    handled = StructuredTool.from_function(balance, name="balance", handle_tool_error=True)
    validated = StructuredTool.from_function(balance, name="checked", handle_validation_error=True)
    code = (
        "for call in (lambda: balance(account='x'), lambda: checked(account=3)):\n"
        "    try:\n"
        "        print('returned', call())\n"
        "    except ToolError as e:\n"
        "        print('raised', e)\n"
    )
    agent, _ = agent_for(code, CodeActTool(tools=[handled, validated]))
    state = await agent.ainvoke(
        {"messages": [("user", "go")]}, {"configurable": {"thread_id": "8"}}
    )
    answer = state["messages"][-1].content
    assert "raised ToolException: account x not found" in answer
    assert "returned" not in answer
    assert answer.count("raised") == 2


async def test_a_tool_with_an_injected_call_id_gets_a_nested_id() -> None:
    @tool
    def tagged(x: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
        """Tag x with the call id."""
        return f"{x} from {tool_call_id}"

    code = "print(tagged(x=1))\nprint(tagged(x=2))"
    agent, _ = agent_for(code, CodeActTool(tools=[tagged]))
    state = await agent.ainvoke(
        {"messages": [("user", "go")]}, {"configurable": {"thread_id": "9"}}
    )
    answer = state["messages"][-1].content
    assert answer.startswith("answer (success):")
    first, second = re.findall(r"(\d) from (execute_code:\S+)", answer)
    assert first[1].endswith("/1") and second[1].endswith("/2")
    assert first[1][:-2] == second[1][:-2]


async def test_a_tool_whose_name_python_cannot_call_gets_a_python_name() -> None:
    @tool("get-forecast")
    def forecast(city: str) -> str:
        """The forecast for a city."""
        return "sunny in " + city

    execute_code = CodeActTool(tools=[forecast], require_approval=["get-forecast"])
    assert "call it as get_forecast" in execute_code.description
    gated = execute_code.codeact.tools.get("get_forecast")
    assert gated is not None and gated.approval_mode == "always_require"
    free = CodeActTool(tools=[forecast])
    agent, _ = agent_for('get_forecast(city="Oslo")', free)
    state = await agent.ainvoke(
        {"messages": [("user", "go")]}, {"configurable": {"thread_id": "10"}}
    )
    assert state["messages"][-1].content == 'answer (success): [value] "sunny in Oslo"'


def test_tools_whose_python_names_collide_are_refused_with_what_to_do() -> None:
    @tool("get-forecast")
    def one(city: str) -> str:
        """One."""
        return city

    @tool("get_forecast")
    def two(city: str) -> str:
        """Two."""
        return city

    with pytest.raises(ConfigurationError, match=r"get_forecast.*@tool\('other_name'\)"):
        CodeActTool(tools=[one, two])


LOOP = 'for to in ["a@x", "b@x", "c@x"]:\n    send_email(to=to, body="hi")'


async def test_an_approved_loop_sends_as_often_as_the_person_was_told_it_may() -> None:
    SENT.clear()
    execute_code = CodeActTool(tools=[send_email], require_approval=["send_email"])
    agent, _ = agent_for(LOOP, execute_code)
    config = {"configurable": {"thread_id": "loop"}}
    paused = await agent.ainvoke({"messages": [("user", "mail all")]}, config)
    (interrupt,) = paused["__interrupt__"]
    assert "send_email (in a loop or function: any number of times)" in interrupt.value["question"]
    assert interrupt.value["repeated"] == ["send_email"]
    state = await agent.ainvoke(Command(resume=True), config)
    assert SENT == ["a@x", "b@x", "c@x"]
    assert state["messages"][-1].content.startswith("answer (success)")


async def test_langgraphs_create_react_agent_still_works() -> None:
    """Apps built on LangGraph's create_react_agent (deprecated since LangGraph 1.0 for
    langchain.agents.create_agent, to be removed in 2.0) get the same tool, interrupt included.
    Its deprecation warning is silenced here alone: it is the reason for this test, not a fault
    of codeact's, and the suite turns warnings into errors."""
    SENT.clear()
    execute_code = CodeActTool(tools=[send_email], require_approval=["send_email"])
    model = ScriptedChatModel(code='send_email(to="d@example.com", body="hi")', seen=[])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        agent = create_react_agent(
            model, [execute_code], prompt=execute_code.instructions, checkpointer=InMemorySaver()
        )
    config: RunnableConfig = {"configurable": {"thread_id": "react"}}
    paused = await agent.ainvoke({"messages": [("user", "mail d")]}, config)
    (interrupt,) = paused["__interrupt__"]
    assert interrupt.value["gated_calls"] == {"send_email": 1}
    state = await agent.ainvoke(Command(resume=True), config)
    assert state["messages"][-1].content == 'answer (success): [value] "sent"'
    assert SENT == ["d@example.com"]
    assert model.seen[0][0].content == execute_code.instructions


@pytest.mark.parametrize(
    ("resume", "sent"),
    [
        ({"type": "approve"}, True),
        ({"decisions": [{"type": "approve"}]}, True),
        ({"type": "reject", "message": "not today"}, False),
        ({"decisions": [{"type": "reject", "message": "not today"}]}, False),
    ],
)
async def test_a_create_agent_hitl_decision_answers_the_interrupt(
    resume: dict[str, Any], sent: bool
) -> None:
    """create_agent's HumanInTheLoopMiddleware is resumed with decisions ({"type": "approve"}
    per call, {"decisions": [...]} batched); a person (or a UI) used to it answers the same."""
    SENT.clear()
    execute_code = CodeActTool(tools=[send_email], require_approval=["send_email"])
    agent, _ = agent_for('send_email(to="e@example.com", body="hi")', execute_code)
    config = {"configurable": {"thread_id": "hitl"}}
    await agent.ainvoke({"messages": [("user", "mail e")]}, config)
    state = await agent.ainvoke(Command(resume=resume), config)
    answer = state["messages"][-1].content
    if sent:
        assert (SENT, answer) == (["e@example.com"], 'answer (success): [value] "sent"')
    else:
        assert SENT == []
        assert answer.startswith("answer (error): [denied]") and "(not today)" in answer
