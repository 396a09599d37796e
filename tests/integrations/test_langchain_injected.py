"""Arguments LangChain and LangGraph fill themselves (InjectedToolArg, InjectedState,
InjectedStore, InjectedToolCallId) are hidden from the model, and a program cannot set them:
the call is refused as invalid, naming the argument and what the tool takes."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

pytest.importorskip("langchain_core", reason="needs pip install -e '.[langchain]'")
pytest.importorskip("langgraph", reason="needs pip install -e '.[langchain]'")
pytest.importorskip("langchain.agents", reason="needs pip install -e '.[langchain]'")

from langchain.agents import create_agent
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import InjectedToolArg, InjectedToolCallId, StructuredTool, tool
from langgraph.prebuilt import InjectedState, InjectedStore, ToolRuntime
from langgraph.store.memory import InMemoryStore

from codeact.integrations.langchain import CodeActTool

pytestmark = pytest.mark.usefixtures("wasm_ready")
SEEN: list[Any] = []


@tool
def my_invoices(year: int, user_id: Annotated[str, InjectedToolArg] = "current-user") -> str:
    """The invoices of the signed-in user for a year."""
    return f"invoices of {user_id} for {year}"


@tool
def account_docs(query: str, state: Annotated[dict[str, Any], InjectedState]) -> str:
    """Search the documents of the account in the conversation."""
    SEEN.append(state)
    return f"docs of {state.get('account_id')} matching {query!r}"


@tool
def remember(note: str, store: Annotated[Any, InjectedStore()]) -> str:
    """Keep a note."""
    SEEN.append(store)
    if hasattr(store, "put"):
        store.put(("notes",), "n", {"note": note})
    return "kept"


@tool
def tagged(x: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
    """Echo x with the id of its call."""
    return f"{x} from {tool_call_id}"


def _caught(call: str) -> str:
    return f"try:\n    print({call})\nexcept ToolError as e:\n    print('refused:', e)\n"


@pytest.mark.parametrize(
    ("call", "refusal"),
    [
        (
            "my_invoices(year=2025, user_id='ceo@corp')",
            "my_invoices(): unexpected argument 'user_id'. It takes: year",
        ),
        (
            "account_docs(query='salary', state={'account_id': 'someone-else'})",
            "account_docs(): unexpected argument 'state'. It takes: query",
        ),
        ("remember(note='x', store={'put': 1})", "unexpected argument 'store'. It takes: note"),
        ("tagged(x=1, tool_call_id='forged')", "unexpected argument 'tool_call_id'. It takes: x"),
        ("call_tool('my_invoices', year=1, user_id='ceo')", "unexpected argument 'user_id'"),
    ],
)
def test_a_program_cannot_set_what_langchain_injects(call: str, refusal: str) -> None:
    SEEN.clear()
    execute_code = CodeActTool(tools=[my_invoices, account_docs, remember, tagged])
    out = execute_code.invoke({"code": _caught(call)})
    assert "refused: invalid arguments for " in out and refusal in out
    assert SEEN == [] and "someone-else" not in out.replace(call, "")
    record = execute_code.codeact.execute_sync(_caught(call)).tool_calls[0]
    assert record.outcome == "invalid"


def test_the_tools_still_run_with_what_the_model_may_pass() -> None:
    execute_code = CodeActTool(tools=[my_invoices, tagged])
    out = execute_code.invoke({"code": "print(my_invoices(year=2025))\nprint(tagged(x=3))"})
    assert "invoices of current-user for 2025" in out
    assert "3 from execute_code" in out  # the nested call's own id, not the program's


def test_an_open_schema_still_keeps_the_injected_names_out() -> None:
    """A tool whose schema takes any other name (a JSON-schema dict) still hides the
    arguments its function declares as injected."""

    def lookup(query: str, user_id: Annotated[str, InjectedToolArg] = "me") -> str:
        return f"{query} for {user_id}"

    schema = {
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
        "additionalProperties": True,
    }
    open_tool = StructuredTool.from_function(
        lookup, name="lookup", description="Look up.", args_schema=schema
    )
    execute_code = CodeActTool(tools=[open_tool])
    out = execute_code.invoke({"code": _caught("lookup(query='q', user_id='ceo')")})
    assert "refused: invalid arguments for lookup(): unexpected argument 'user_id'" in out


# Inside a LangGraph graph: the tool node gives execute_code its runtime, and the nested calls
# get the graph's state, store and a runtime of their own from it. Outside one: a clear error.


@tool
def count_messages(messages: Annotated[list[Any], InjectedState("messages")]) -> int:
    """How many messages the conversation has."""
    return len(messages)


@tool
def whoami(greeting: str, runtime: ToolRuntime) -> str:
    """Greet the signed-in user."""
    user = runtime.config.get("configurable", {}).get("user_id")
    return f"{greeting} {user} ({len(runtime.state['messages'])} messages) {runtime.tool_call_id}"


GRAPH_TOOLS = [count_messages, whoami, remember]
GRAPH_PROGRAM = """\
print(count_messages())
print(whoami(greeting="hi"))
print(remember(note="buy milk"))
try:
    remember(note="x", store={"put": 1})
except ToolError as e:
    print("refused:", e)
"""


class RunsOneProgram(BaseChatModel):
    """Calls execute_code with `code`, then answers with what it got back."""

    code: str

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        if isinstance(messages[-1], ToolMessage):
            message = AIMessage(content=str(messages[-1].content))
        else:
            call = {"name": "execute_code", "args": {"code": self.code}, "id": "outer-1"}
            message = AIMessage(content="", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(self, tools: Any, **kwargs: Any) -> RunsOneProgram:
        return self

    @property
    def _llm_type(self) -> str:
        return "runs-one-program"


def _graph(code: str, store: Any) -> Any:
    return create_agent(RunsOneProgram(code=code), [CodeActTool(tools=GRAPH_TOOLS)], store=store)


@pytest.mark.parametrize("run", ["invoke", "ainvoke"])
async def test_in_a_graph_nested_tools_get_its_state_store_and_runtime(run: str) -> None:
    store = InMemoryStore()
    graph = _graph(GRAPH_PROGRAM, store)
    question = {"messages": [("user", "go")]}
    config = {"configurable": {"user_id": "ann"}}
    if run == "invoke":
        state = graph.invoke(question, config)
    else:
        state = await graph.ainvoke(question, config)
    out = str(state["messages"][-1].content)
    assert out.splitlines()[:3] == [
        "2",
        "hi ann (2 messages) " + out.splitlines()[1].rsplit(" ", 1)[1],
        "kept",
    ], out
    nested_id = out.splitlines()[1].rsplit(" ", 1)[1]
    assert nested_id.startswith("execute_code:") and nested_id.endswith("/2"), out
    assert SEEN[-1] is store and store.get(("notes",), "n") is not None
    assert "refused: invalid arguments for remember(): unexpected argument 'store'" in out


def test_a_graph_without_a_store_says_so() -> None:
    state = _graph("remember(note='x')", None).invoke({"messages": [("user", "go")]})
    out = str(state["messages"][-1].content)
    assert "remember() takes the graph's store (InjectedStore), and this graph has none" in out
    assert "validation error" not in out


def test_outside_a_graph_such_a_tool_says_it_needs_one() -> None:
    execute_code = CodeActTool(tools=GRAPH_TOOLS)
    for call, takes in [
        ("count_messages()", "the graph's state (messages: InjectedState)"),
        ("whoami(greeting='hi')", "a tool runtime (runtime: ToolRuntime)"),
        ("remember(note='x')", "the graph's store (store: InjectedStore)"),
    ]:
        out = execute_code.invoke({"code": _caught(call)})
        name = call.split("(")[0]
        assert out.splitlines()[0] == (
            f"refused: NeedsLangGraph: {name}() needs to run inside a LangGraph graph: it takes "
            f"{takes}, which the graph's tool node gives execute_code, and there is no graph here"
        ), out
        assert "validation error" not in out
