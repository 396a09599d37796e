"""The Pydantic AI toolset, driven by Pydantic AI's own agent loop and its `FunctionModel`.

The sandbox is real; only the model is scripted: it calls ``execute_code`` with a program, reads
the tool's answer and finishes with it as its final text.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pydantic_ai", reason="needs pip install -e '.[pydantic-ai]'")

from pydantic_ai import (
    Agent,
    DeferredToolRequests,
    DeferredToolResults,
    RunContext,
    Tool,
    ToolDenied,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset

from codeact import ConfigurationError, Limits
from codeact.integrations.pydantic_ai import CodeActToolset

pytestmark = pytest.mark.usefixtures("wasm_ready")

PROGRAM = 'w = get_weather(city="Paris")\nround(to_fahrenheit(celsius=w["temp_c"]), 1)'


def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"city": city, "temp_c": 21.5}


def to_fahrenheit(ctx: RunContext[int], celsius: float) -> float:
    """Celsius to Fahrenheit (uses the run's deps as an offset, to show they arrive)."""
    return celsius * 9 / 5 + 32 + ctx.deps


def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return "sent"


SENT: list[str] = []


def scripted(code: str, seen: list[list[ModelMessage]]) -> FunctionModel:
    """A model that runs `code` once, then answers with what the tool returned."""

    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        last = messages[-1]
        for part in getattr(last, "parts", []):
            if getattr(part, "part_kind", "") in ("tool-return", "retry-prompt"):
                return ModelResponse(parts=[TextPart(f"answer: {part.model_response_str()}")])
        return ModelResponse(parts=[ToolCallPart("execute_code", {"code": code}, "call-1")])

    return FunctionModel(reply)


async def test_agent_runs_a_program_that_calls_two_tools() -> None:
    seen: list[list[ModelMessage]] = []
    toolset = CodeActToolset(
        tools=[get_weather, Tool(to_fahrenheit, takes_ctx=True)], limits=Limits(wall_time=20)
    )
    agent = Agent(scripted(PROGRAM, seen), toolsets=[toolset], deps_type=int)
    result = await agent.run("How warm is Paris in F?", deps=1)
    assert result.output == "answer: [value] 71.7"
    first_request = seen[0][0]
    instructions = getattr(first_request, "instructions", "") or ""
    assert toolset.codeact.build_instructions() in instructions
    returns = [
        p
        for m in result.all_messages()
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart)
    ]
    assert [p.tool_name for p in returns] == ["execute_code"]


async def test_model_sees_only_execute_code_with_the_tools_as_signatures() -> None:
    infos: list[AgentInfo] = []

    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        infos.append(info)
        return ModelResponse(parts=[TextPart("done")])

    toolset = CodeActToolset(tools=[get_weather])
    await Agent(FunctionModel(reply), toolsets=[toolset]).run("hi")
    (tool_def,) = infos[0].function_tools
    assert tool_def.name == "execute_code"
    assert "get_weather(city: str)" in (tool_def.description or "")


async def test_failing_program_is_a_failed_tool_result_and_the_run_goes_on() -> None:
    seen: list[list[ModelMessage]] = []
    toolset = CodeActToolset(tools=[get_weather])
    agent = Agent(scripted('get_weather(city="Paris")\n1 / 0', seen), toolsets=[toolset])
    result = await agent.run("go")
    assert result.output.startswith("answer: ")
    assert "ZeroDivisionError" in result.output
    assert "line 2" in result.output


async def test_stopped_program_says_which_limit_stopped_it() -> None:
    seen: list[list[ModelMessage]] = []
    toolset = CodeActToolset(tools=[get_weather], limits=Limits(wall_time=1))
    result = await Agent(scripted("while True:\n    pass", seen), toolsets=[toolset]).run("go")
    assert "[stopped]" in result.output
    assert "wall" in result.output


async def test_gated_call_is_a_deferred_approval_and_a_denial_is_reported() -> None:
    SENT.clear()
    seen: list[list[ModelMessage]] = []
    code = 'send_email(to="a@example.com", body="hi")'
    toolset = CodeActToolset(tools=[get_weather, send_email], require_approval=["send_email"])
    agent = Agent(scripted(code, seen), toolsets=[toolset], output_type=[str, DeferredToolRequests])
    first = await agent.run("mail a")
    assert isinstance(first.output, DeferredToolRequests)
    (request,) = first.output.approvals
    assert first.output.metadata[request.tool_call_id]["gated_calls"] == {"send_email": 1}
    assert SENT == []  # nothing ran before the person answered

    denied = await agent.run(
        message_history=first.all_messages(),
        deferred_tool_results=DeferredToolResults(
            approvals={request.tool_call_id: ToolDenied("not today")}
        ),
    )
    assert denied.output == "answer: not today"
    assert SENT == []


async def test_approved_program_runs_its_gated_calls_once() -> None:
    SENT.clear()
    seen: list[list[ModelMessage]] = []
    code = 'send_email(to="a@example.com", body="hi")'
    toolset = CodeActToolset(tools=[send_email], require_approval=["send_email"])
    agent = Agent(scripted(code, seen), toolsets=[toolset], output_type=[str, DeferredToolRequests])
    first = await agent.run("mail a")
    assert isinstance(first.output, DeferredToolRequests)
    (request,) = first.output.approvals
    done = await agent.run(
        message_history=first.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={request.tool_call_id: True}),
    )
    assert done.output == 'answer: [value] "sent"'
    assert SENT == ["a@example.com"]


async def test_gated_call_the_scan_cannot_see_is_denied_in_the_program() -> None:
    SENT.clear()
    seen: list[list[ModelMessage]] = []
    code = 'name = "send_" + "email"\ncall_tool(name, to="x@example.com", body="hi")'
    toolset = CodeActToolset(tools=[send_email], require_approval=["send_email"])
    result = await Agent(scripted(code, seen), toolsets=[toolset]).run("go")
    assert "ToolDenied" in result.output
    assert SENT == []


async def test_a_hidden_gated_call_never_takes_the_grant_of_a_shown_one() -> None:
    """The program names one send_email and builds another's name at run time: grants are
    per tool, so approving the shown call would let the hidden one (first) take it. The
    person is not asked; both are denied, with a reason that says to name gated tools."""
    SENT.clear()
    seen: list[list[ModelMessage]] = []
    code = (
        'name = "send_" + "email"\n'
        'try:\n    call_tool(name, to="evil@example.com", body="x")\n'
        "except ToolDenied as e:\n    print('hidden denied:', e)\n"
        'send_email(to="a@example.com", body="hi")'
    )
    toolset = CodeActToolset(tools=[send_email], require_approval=["send_email"])
    agent = Agent(scripted(code, seen), toolsets=[toolset], output_type=[str, DeferredToolRequests])
    result = await agent.run("mail a")
    assert not isinstance(result.output, DeferredToolRequests)  # nothing put to a person
    assert SENT == []
    assert "hidden denied" in result.output
    assert "with a literal name" in result.output


def test_options_and_a_ready_codeact_are_exclusive() -> None:
    from codeact import CodeAct

    with pytest.raises(ConfigurationError, match="not both"):
        CodeActToolset(tools=[get_weather], codeact=CodeAct(), limits=Limits())


async def test_a_tool_that_defers_itself_is_denied_inside_the_program() -> None:
    from pydantic_ai import CallDeferred

    def ask_a_person(question: str) -> str:
        """Ask a person."""
        raise CallDeferred()

    seen: list[list[ModelMessage]] = []
    code = 'try:\n    ask_a_person(question="ok?")\nexcept ToolDenied as e:\n    print("no:", e)'
    toolset = CodeActToolset(tools=[ask_a_person])
    result = await Agent(scripted(code, seen), toolsets=[toolset]).run("go")
    assert "no:" in result.output
    assert "cannot wait" in result.output


async def test_the_runs_tracer_sees_each_nested_call() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from pydantic_ai.capabilities.instrumentation import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    seen: list[list[ModelMessage]] = []
    toolset = CodeActToolset(tools=[get_weather, Tool(to_fahrenheit, takes_ctx=True)])
    agent = Agent(
        scripted(PROGRAM, seen),
        toolsets=[toolset],
        deps_type=int,
        capabilities=[Instrumentation(settings=InstrumentationSettings(tracer_provider=provider))],
    )
    await agent.run("How warm is Paris in F?", deps=0)
    names = [span.name for span in exporter.get_finished_spans()]  # in the order they ended
    nested = [n for n in names if n in ("execute_tool get_weather", "execute_tool to_fahrenheit")]
    assert nested == ["execute_tool get_weather", "execute_tool to_fahrenheit"]
    assert any("execute_code" in n for n in names)


async def test_the_programs_span_carries_the_models_call_id() -> None:
    """codeact's own ``execute_tool execute_code`` span joins the conversation's tool call."""
    pytest.importorskip("opentelemetry.sdk", reason="needs pip install -e '.[otel]'")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    toolset = CodeActToolset(tools=[get_weather], tracer_provider=provider)
    result = await Agent(scripted("6 * 7", []), toolsets=[toolset]).run("go")
    provider.shutdown()
    assert result.output == "answer: [value] 42"
    ids = {
        s.name: dict(s.attributes or {}).get("gen_ai.tool.call.id")
        for s in exporter.get_finished_spans()
    }
    assert ids["execute_tool execute_code"] == "call-1"


async def test_an_mcp_toolsets_tool_with_a_name_python_cannot_call_gets_a_python_name() -> None:
    """The MCP server's ``server-info`` is called ``server_info`` in the program (and its
    description says so); it stays gated by its own name in require_approval."""
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPToolset

    from .conftest import demo_server_command

    command, *args = demo_server_command("weather")
    server = MCPToolset(StdioTransport(command=command, args=args))
    toolset = CodeActToolset(tools=[server], require_approval=["server-info"])
    seen: list[list[ModelMessage]] = []
    agent = Agent(
        scripted("print(forecast(city='Oslo')['city'], cities())", seen), toolsets=[toolset]
    )
    async with agent:
        result = await agent.run("go")
    assert result.output.startswith("answer: Oslo")
    described = toolset.codeact.tools.get("server_info")
    assert described is not None and "call it as server_info" in described.description
    assert described.approval_mode == "always_require"


async def test_tools_whose_python_names_collide_are_refused_and_the_tools_stay_as_they_were() -> (
    None
):
    def forecast(city: str) -> str:
        """Forecast."""
        return city

    inner = FunctionToolset([Tool(forecast, name="get_forecast")])
    toolset = CodeActToolset(tools=[inner])
    agent = Agent(scripted("print(get_forecast(city='Oslo'))", []), toolsets=[toolset])
    assert (await agent.run("go")).output == "answer: Oslo"
    before = toolset.codeact.tools.names()
    inner.add_tool(Tool(forecast, name="get-forecast"))
    with pytest.raises(ConfigurationError, match=r"prefixed"):
        await agent.run("go")
    assert toolset.codeact.tools.names() == before


def account(ctx: RunContext[str], field: str) -> str:
    """A field of the signed-in account."""
    return f"{field} of {ctx.deps}"


async def test_a_program_cannot_pass_the_run_context_or_any_name_the_schema_leaves_out() -> None:
    code = (
        "try:\n    account(field='email', ctx='someone-else')\n"
        "except ToolError as e:\n    print(e)\n"
        "print(account('email'))"
    )
    toolset = CodeActToolset(tools=[Tool(account, takes_ctx=True)], limits=Limits(wall_time=20))
    agent = Agent(scripted(code, []), toolsets=[toolset], deps_type=str)
    result = await agent.run("go", deps="ann")
    assert "invalid arguments for account(): unexpected argument 'ctx'" in result.output
    assert "email of ann" in result.output


async def test_an_approved_loop_sends_as_often_as_the_person_was_told_it_may() -> None:
    SENT.clear()
    code = 'for to in ["a@x", "b@x", "c@x"]:\n    send_email(to=to, body="hi")'
    toolset = CodeActToolset(tools=[send_email], require_approval=["send_email"])
    agent = Agent(scripted(code, []), toolsets=[toolset], output_type=[str, DeferredToolRequests])
    first = await agent.run("mail all")
    assert isinstance(first.output, DeferredToolRequests)
    (request,) = first.output.approvals
    question = first.output.metadata[request.tool_call_id]["question"]
    assert "send_email (in a loop or function: any number of times)" in question
    done = await agent.run(
        message_history=first.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={request.tool_call_id: True}),
    )
    assert SENT == ["a@x", "b@x", "c@x"]
    assert isinstance(done.output, str) and "denied" not in done.output
