"""The OpenAI Agents SDK tool, driven by the SDK's own `Runner` and a fake `Model`.

The sandbox is real; only the model is scripted: it calls ``execute_code`` with a program, reads
the tool's output from its input and finishes with it as its final text.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("agents", reason="needs pip install -e '.[openai-agents]'")

from agents import (
    Agent,
    FunctionTool,
    ModelResponse,
    RunContextWrapper,
    Runner,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrailData,
    ToolInputGuardrailTripwireTriggered,
    ToolOutputGuardrailData,
    Usage,
    function_tool,
    tool_input_guardrail,
    tool_output_guardrail,
    trace,
)
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.tracing import (
    Span,
    Trace,
    TracingProcessor,
    set_trace_processors,
)

from codeact import ConfigurationError, Limits
from codeact.integrations.openai_agents import codeact_tool

pytestmark = pytest.mark.usefixtures("wasm_ready")


@pytest.fixture(autouse=True)
def no_trace_export() -> None:
    """The SDK's default processor would export traces to OpenAI: no test talks to it."""
    set_trace_processors([])


PROGRAM = 'w = get_weather(city="Paris")\nround(to_fahrenheit(celsius=w["temp_c"]), 1)'


@function_tool
def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"city": city, "temp_c": 21.5}


@function_tool
def to_fahrenheit(ctx: RunContextWrapper[dict[str, float]], celsius: float) -> float:
    """Celsius to Fahrenheit (plus the run context's offset, to show it arrives)."""
    return celsius * 9 / 5 + 32 + ctx.context["offset"]


@function_tool
def broken(city: str) -> str:
    """Always fails."""
    raise RuntimeError(f"no data for {city}")


SENT: list[str] = []


@function_tool(needs_approval=True)
def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return "sent"


class FakeModel(Model):
    """Calls execute_code with `code` first; once a tool output is in its input, answers with
    that output as its final text. Records the instructions and tools it was given."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.instructions: list[str | None] = []
        self.tools: list[list[Any]] = []

    async def get_response(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        self.instructions.append(system_instructions)
        self.tools.append(list(tools))
        items = input if isinstance(input, list) else []
        outputs = [
            i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        if outputs:
            output = [assistant_message(f"answer: {outputs[-1]['output']}")]
        else:
            output = [function_call("execute_code", {"code": self.code}, call_id="call-1")]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


class Spans(TracingProcessor):
    def __init__(self) -> None:
        self.spans: list[Span[Any]] = []

    def on_trace_start(self, trace: Trace) -> None: ...
    def on_trace_end(self, trace: Trace) -> None: ...
    def on_span_start(self, span: Span[Any]) -> None: ...

    def on_span_end(self, span: Span[Any]) -> None:
        self.spans.append(span)

    def shutdown(self) -> None: ...
    def force_flush(self) -> None: ...


async def test_runner_runs_a_program_that_calls_two_tools_and_traces_them() -> None:
    spans = Spans()
    set_trace_processors([spans])
    try:
        execute_code = codeact_tool(tools=[get_weather, to_fahrenheit], limits=Limits(wall_time=20))
        model = FakeModel(PROGRAM)
        agent = Agent(
            name="a", instructions=execute_code.instructions, tools=[execute_code], model=model
        )
        with trace("codeact"):
            result = await Runner.run(agent, "How warm is Paris in F?", context={"offset": 1.0})
    finally:
        set_trace_processors([])
    assert result.final_output == "answer: [value] 71.7"
    assert model.instructions[0] == execute_code.codeact.build_instructions()
    assert [t.name for t in model.tools[0]] == ["execute_code"]
    assert "get_weather(city: str)" in model.tools[0][0].description
    functions = [s for s in spans.spans if s.span_data.type == "function"]
    by_id = {s.span_id: s for s in functions}
    nested = [(s, by_id[s.parent_id]) for s in functions if s.parent_id and s.parent_id in by_id]
    assert [s.span_data.name for s, _ in nested] == ["get_weather", "to_fahrenheit"]
    assert {parent.span_data.name for _, parent in nested} == {"execute_code"}


async def test_failing_tool_is_a_catchable_error_in_the_program() -> None:
    code = 'try:\n    broken(city="x")\nexcept ToolError as e:\n    print("caught", e)'
    execute_code = codeact_tool(tools=[broken])
    agent = Agent(name="a", tools=[execute_code], model=FakeModel(code))
    result = await Runner.run(agent, "go")
    assert "caught" in result.final_output
    assert "no data for x" in result.final_output


async def test_failing_program_comes_back_as_the_tool_output_and_the_run_goes_on() -> None:
    execute_code = codeact_tool(tools=[get_weather])
    model = FakeModel('get_weather(city="Paris")\n1 / 0')
    result = await Runner.run(Agent(name="a", tools=[execute_code], model=model), "go")
    assert result.final_output.startswith("answer: ")
    assert "ZeroDivisionError" in result.final_output


async def test_stopped_program_says_which_limit_stopped_it() -> None:
    execute_code = codeact_tool(tools=[get_weather], limits=Limits(wall_time=1))
    model = FakeModel("while True:\n    pass")
    result = await Runner.run(Agent(name="a", tools=[execute_code], model=model), "go")
    assert "[stopped]" in result.final_output
    assert "wall" in result.final_output


async def test_gated_call_needs_approval_and_a_rejection_is_reported() -> None:
    SENT.clear()
    execute_code = codeact_tool(tools=[get_weather, send_email])
    agent = Agent(
        name="a",
        tools=[execute_code],
        model=FakeModel('send_email(to="a@example.com", body="hi")'),
    )
    first = await Runner.run(agent, "mail a")
    (item,) = first.interruptions
    assert SENT == []
    state = first.to_state()
    state.reject(item)
    second = await Runner.run(agent, state)
    assert SENT == []
    assert second.final_output.startswith("answer: ")
    assert "approv" in second.final_output.lower() or "reject" in second.final_output.lower()


async def test_approved_program_runs_its_gated_call() -> None:
    SENT.clear()
    execute_code = codeact_tool(tools=[send_email])
    agent = Agent(
        name="a",
        tools=[execute_code],
        model=FakeModel('send_email(to="a@example.com", body="hi")'),
    )
    first = await Runner.run(agent, "mail a")
    (item,) = first.interruptions
    # What the person sees, as the other adapters show it (the SDK's item has the raw call).
    assert execute_code.approval_question(item) == {
        "tool": "execute_code",
        "code": 'send_email(to="a@example.com", body="hi")',
        "gated_calls": {"send_email": 1},
        "repeated": [],
        "question": "run this program? it calls send_email (1x)",
    }
    state = first.to_state()
    state.approve(item)
    second = await Runner.run(agent, state)
    assert second.final_output == 'answer: [value] "sent"'
    assert SENT == ["a@example.com"]


def test_a_program_with_no_gated_call_needs_no_approval() -> None:
    execute_code = codeact_tool(tools=[get_weather, send_email])
    assert isinstance(execute_code, FunctionTool)
    assert execute_code.codeact.scan('get_weather(city="x")').counts(gated_only=True) == {}
    assert json.loads(json.dumps(execute_code.params_json_schema))["required"] == ["code"]


DELETED: list[str] = []


@tool_input_guardrail
def no_etc(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
    args = json.loads(data.context.tool_arguments or "{}")
    if args.get("path", "").startswith("/etc"):
        return ToolGuardrailFunctionOutput.reject_content("/etc is off limits")
    if args.get("path") == "/boot":
        return ToolGuardrailFunctionOutput.raise_exception()
    return ToolGuardrailFunctionOutput.allow()


@tool_output_guardrail
def no_secrets(data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
    if "secret" in str(data.output):
        return ToolGuardrailFunctionOutput.reject_content("the output held a secret")
    return ToolGuardrailFunctionOutput.allow()


@function_tool(tool_input_guardrails=[no_etc], tool_output_guardrails=[no_secrets])
def delete_file(path: str) -> str:
    """Delete a file."""
    DELETED.append(path)
    return f"deleted {path}" + (" (secret)" if path == "/tmp/s" else "")


async def test_a_tools_guardrails_hold_for_calls_from_a_program() -> None:
    """As for a direct call: a rejecting input guardrail refuses the call before the tool runs,
    a rejecting output guardrail replaces the result by an error."""
    DELETED.clear()
    code = (
        "for path in ('/etc/passwd', '/tmp/s', '/tmp/ok'):\n"
        "    try:\n"
        "        print(delete_file(path=path))\n"
        "    except ToolDenied as e:\n"
        "        print('denied', e)\n"
        "    except ToolError as e:\n"
        "        print('failed', e)\n"
    )
    execute_code = codeact_tool(tools=[delete_file])
    result = await Runner.run(Agent(name="a", tools=[execute_code], model=FakeModel(code)), "go")
    assert DELETED == ["/tmp/s", "/tmp/ok"]
    assert "denied the call of delete_file() was denied: /etc is off limits" in result.final_output
    assert "failed" in result.final_output and "the output held a secret" in result.final_output
    assert "deleted /tmp/ok" in result.final_output
    assert "(secret)" not in result.final_output


async def test_a_guardrail_tripwire_halts_the_run_even_if_the_program_catches_it() -> None:
    DELETED.clear()
    code = "try:\n    delete_file(path='/boot')\nexcept ToolError:\n    print('carried on')\n"
    execute_code = codeact_tool(tools=[delete_file])
    agent = Agent(name="a", tools=[execute_code], model=FakeModel(code))
    with pytest.raises(ToolInputGuardrailTripwireTriggered):
        await Runner.run(agent, "go")
    assert DELETED == []


async def test_a_tool_whose_name_python_cannot_call_gets_a_python_name() -> None:
    def forecast(city: str) -> str:
        """The forecast for a city."""
        return "sunny in " + city

    hyphenated = function_tool(forecast, name_override="get-forecast")
    execute_code = codeact_tool(tools=[hyphenated])
    assert "call it as get_forecast" in execute_code.description
    model = FakeModel('get_forecast(city="Oslo")')
    result = await Runner.run(Agent(name="a", tools=[execute_code], model=model), "go")
    assert result.final_output == 'answer: [value] "sunny in Oslo"'
    with pytest.raises(ConfigurationError, match=r"name_override"):
        codeact_tool(tools=[hyphenated, function_tool(forecast, name_override="get_forecast")])


@function_tool
def account(ctx: RunContextWrapper[Any], field: str) -> str:
    """A field of the signed-in account."""
    return field


def test_a_program_cannot_pass_the_run_context_or_any_name_the_schema_leaves_out() -> None:
    execute_code = codeact_tool(tools=[account])
    code = "try:\n    account(field='x', ctx={'user': 'y'})\nexcept ToolError as e:\n    print(e)"
    result = execute_code.codeact.execute_sync(code)
    assert "invalid arguments for account(): unexpected argument 'ctx'" in result.stdout
    assert result.tool_calls[0].outcome == "invalid"
