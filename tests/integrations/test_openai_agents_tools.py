"""How a program's calls of OpenAI Agents function tools follow the tool's own settings, as
the SDK follows them for a direct call: ``is_enabled``, arguments with defaults, ``timeout=``,
the declared output; hosted tools are refused with what to do; the program's span carries the
model's call id. Driven by the SDK's `Runner` and a fake `Model`; the sandbox is real."""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypedDict

import pytest

pytest.importorskip("agents", reason="needs pip install -e '.[openai-agents]'")

from agents import (
    Agent,
    RunContextWrapper,
    Runner,
    WebSearchTool,
    function_tool,
)
from agents.tracing import set_trace_processors
from pydantic import BaseModel

from codeact import ConfigurationError
from codeact.integrations.openai_agents import codeact_tool

from .test_openai_agents import FakeModel

pytestmark = pytest.mark.usefixtures("wasm_ready")


@pytest.fixture(autouse=True)
def no_trace_export() -> None:
    """The SDK's default processor would export traces to OpenAI: no test talks to it."""
    set_trace_processors([])


async def _run(execute_code: Any, code: str, context: Any = None) -> str:
    agent = Agent(name="a", tools=[execute_code], model=FakeModel(code))
    result = await Runner.run(agent, "go", context=context)
    return str(result.final_output)


async def test_the_programs_span_carries_the_models_call_id() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        execute_code = codeact_tool(tools=[], tracer_provider=provider)
        assert "[value] 42" in await _run(execute_code, "6 * 7")
    finally:
        provider.shutdown()
    ids = {
        s.name: dict(s.attributes or {}).get("gen_ai.tool.call.id")
        for s in exporter.get_finished_spans()
    }
    assert ids["execute_tool execute_code"] == "call-1"


RAN: list[str] = []


@function_tool(is_enabled=False)
def admin_reset(confirm: bool) -> str:
    """Reset everything."""
    RAN.append("admin_reset")
    return "reset"


def _only_admins(ctx: RunContextWrapper[dict[str, bool]], agent: Any) -> bool:
    return bool(ctx.context.get("admin"))


@function_tool(is_enabled=_only_admins)
def delete_user(user: str) -> str:
    """Delete a user (admins only)."""
    RAN.append(f"delete {user}")
    return f"deleted {user}"


async def test_a_tool_that_is_not_enabled_is_not_offered_and_never_runs() -> None:
    """As the SDK does for a direct call: ``is_enabled=False`` leaves the tool out; a callable
    ``is_enabled`` is asked with the run's context at each call, and a no is a ToolError."""
    RAN.clear()
    execute_code = codeact_tool(tools=[admin_reset, delete_user])
    assert "admin_reset" not in execute_code.description
    assert "delete_user(user: str)" in execute_code.description
    code = (
        "for call in ('admin_reset', 'delete_user'):\n"
        "    try:\n"
        "        print(call_tool(call, **({'confirm': True} if call == 'admin_reset' "
        "else {'user': 'bob'})))\n"
        "    except ToolError as e:\n"
        "        print('refused', e)\n"
    )
    output = await _run(execute_code, code, context={"admin": False})
    assert RAN == []
    assert "refused" in output and "no tool named 'admin_reset'" in output
    assert "no tool named 'delete_user' in this run" in output
    output = await _run(execute_code, code, context={"admin": True})
    assert RAN == ["delete bob"]
    assert "deleted bob" in output


class Item(BaseModel):
    name: str
    qty: int
    note: str | None = None


@function_tool
def search(query: str, limit: int = 10, lang: str | None = None) -> list[str]:
    """Search documents."""
    return [f"{query}:{limit}:{lang}"]


@function_tool
def order(item: Item) -> str:
    """Order an item."""
    return f"{item.qty} {item.name} ({item.note})"


async def test_arguments_with_defaults_may_be_left_out_as_the_function_allows() -> None:
    """The SDK's strict schema requires every argument; the function (and the SDK's own call)
    fills the defaults in, so a program may leave them out, and the model is shown them."""
    execute_code = codeact_tool(tools=[search, order])
    assert "search(query: str, limit: int = 10, lang: str | None = None)" in (
        execute_code.description
    )
    code = (
        "print(search(query='x'))\nprint(search('y', 3))\n"
        "print(order(item={'name': 'apple', 'qty': 3}))"
    )
    output = await _run(execute_code, code)
    assert "['x:10:None']" in output and "['y:3:None']" in output
    assert "3 apple (None)" in output


class Order(TypedDict):
    id: int
    total: float


class Line(BaseModel):
    id: int
    total: float


class Orders(BaseModel):
    orders: list[Line]


def get_orders(user_id: int) -> list[Order]:
    """Orders of a user."""
    return [{"id": user_id, "total": 2.0}]


def test_the_model_is_shown_what_a_tool_returns_where_the_sdk_knows_it() -> None:
    """From the function's return annotation, or from a declared ``output_type``."""
    annotated = codeact_tool(tools=[function_tool(get_orders)]).description
    assert "get_orders(user_id: int) -> list[Order]" in annotated
    assert 'Order = {"id": int, "total": float}' in annotated
    declared = function_tool(get_orders, name_override="orders_of", output_type=Orders)
    described = codeact_tool(tools=[declared]).description
    assert "orders_of(user_id: int) -> Orders" in described
    assert 'Orders = {"orders": list[Line]}' in described


@function_tool(timeout=0.5)
async def slow() -> str:
    """Takes its time."""
    await asyncio.sleep(10)
    return "finished"


async def test_a_tools_own_timeout_holds_for_calls_from_a_program() -> None:
    execute_code = codeact_tool(tools=[slow])
    started = time.monotonic()
    output = await _run(execute_code, "print(slow())")
    assert time.monotonic() - started < 5
    assert "finished" not in output
    assert "slow() took longer than its timeout (0.5s)" in output


def test_a_hosted_tool_is_refused_with_what_to_do_instead() -> None:
    with pytest.raises(ConfigurationError) as refused:
        codeact_tool(tools=[WebSearchTool()])  # type: ignore[list-item]  # what is refused
    message = str(refused.value)
    assert "WebSearchTool is not a function tool, so a program cannot call it" in message
    assert "hosted tools" in message
    assert "Agent(tools=[execute_code, WebSearchTool(...)])" in message
