"""Arguments LangChain and LangGraph fill themselves (InjectedToolArg, InjectedState,
InjectedStore, InjectedToolCallId) are hidden from the model, and a program cannot set them:
the call is refused as invalid, naming the argument and what the tool takes."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

pytest.importorskip("langchain_core", reason="needs pip install 'codeact[langchain]'")
pytest.importorskip("langgraph", reason="needs pip install 'codeact[langchain]'")

from langchain_core.tools import InjectedToolArg, InjectedToolCallId, StructuredTool, tool
from langgraph.prebuilt import InjectedState, InjectedStore

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
