"""The agent loop, driven by the scripted chat client (no model): direct tools, CodeAct, both.

What the agent does to a program before it runs is test_agent_program_cuts.py; approvals,
middleware and audit of direct calls are test_agent_direct_approvals.py."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pydantic
import pytest

from codeact import (
    Agent,
    CodeAct,
    ConfigurationError,
    OutputValidationError,
    TurnLimitExceeded,
    tool,
)
from codeact.chat import Usage
from codeact.testing import ChatRequest, FunctionChat, ScriptedChat, call, code_call, reply
from codeact.workloads import order_totals


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def fail(message: str) -> str:
    """Always raises."""
    raise ValueError(message)


def tool_messages(chat: ScriptedChat, request: int) -> list[str]:
    return [m.content or "" for m in chat.requests[request].messages if m.role == "tool"]


async def test_direct_tool_call_then_answer() -> None:
    chat = ScriptedChat([call("add", a=2, b=3), "The sum is 5."])
    result = await Agent(client=chat, instructions="Be exact.", tools=[add]).run("2 + 3?")
    assert result.text == "The sum is 5."
    assert tool_messages(chat, 1) == ["5"]
    assert result.usage.model_turns == 2 and result.usage.direct_tool_calls == 1
    assert [(r.name, r.arguments, r.outcome) for r in result.tool_calls] == [
        ("add", {"a": 2, "b": 3}, "ok")
    ]
    first = chat.requests[0]
    assert first.messages[0].role == "system" and first.messages[0].content == "Be exact."
    assert first.tool_names == ["add"]
    assert first.tools[0].parameters["required"] == ["a", "b"]
    assert [m.role for m in result.messages] == ["system", "user", "assistant", "tool", "assistant"]


async def test_tool_mistakes_go_back_to_the_model_as_results() -> None:
    chat = ScriptedChat(
        [[call("fail", message="boom"), call("add", a="x", b=1), call("nope")], "sorry"]
    )
    result = await Agent(client=chat, tools=[add, fail]).run("go")
    errors = tool_messages(chat, 1)
    assert errors[0] == "Error: ValueError: boom"
    assert errors[1].startswith("Error: invalid arguments for add(): argument 'a'")
    assert errors[2].startswith("Error: there is no tool named 'nope'; the tools are: add, fail")
    assert [r.outcome for r in result.tool_calls] == ["error", "invalid", "unknown"]


async def test_calls_of_one_turn_run_concurrently() -> None:
    # Each tool waits for the other: run one after the other, they would time out.
    a_started, b_started = asyncio.Event(), asyncio.Event()
    barrier = threading.Barrier(2, timeout=10)

    @tool
    async def left() -> str:
        """Waits for right."""
        a_started.set()
        await asyncio.wait_for(b_started.wait(), 10)
        return "left"

    @tool
    async def right() -> str:
        """Waits for left."""
        b_started.set()
        await asyncio.wait_for(a_started.wait(), 10)
        return "right"

    @tool
    def sync_one() -> str:
        """A sync tool: meets the other sync tool in worker threads."""
        barrier.wait()
        return "one"

    @tool
    def sync_two() -> str:
        """The other sync tool."""
        barrier.wait()
        return "two"

    calls = [call("left"), call("right"), call("sync_one"), call("sync_two")]
    chat = ScriptedChat([calls, "done"])
    result = await Agent(client=chat, tools=[left, right, sync_one, sync_two]).run("go")
    assert tool_messages(chat, 1) == ["left", "right", "one", "two"]
    assert result.usage.direct_tool_calls == 4 and result.usage.model_turns == 2


@pytest.mark.usefixtures("wasm_ready")
async def test_codeact_runs_the_program_and_counts_nested_calls() -> None:
    codeact = CodeAct(tools=order_totals.TOOLS, backend="wasm")
    chat = ScriptedChat([code_call(order_totals.PROGRAM), "Diana has the most."])
    agent = Agent(client=chat, instructions="Answer precisely.", codeact=codeact)
    result = await agent.run(order_totals.TASK)
    system = chat.requests[0].messages[0].content or ""
    assert system.startswith("Answer precisely.\n\n") and codeact.build_instructions() in system
    assert chat.requests[0].tool_names == ["execute_code"]
    assert "- list_users() -> list[User]: List all users" in chat.requests[0].tools[0].description
    program_output = tool_messages(chat, 1)[0]
    assert order_totals.check_answer(program_output)
    assert result.usage.code_executions == 1
    assert result.usage.nested_tool_calls == len(result.executions[0].tool_calls) == 36
    assert result.usage.tool_calls == 36 and result.usage.direct_tool_calls == 0
    assert result.programs == [order_totals.PROGRAM]
    assert result.timings.sandbox > 0 and result.timings.tools > 0


@pytest.mark.usefixtures("wasm_ready")
async def test_program_errors_are_results_the_model_can_fix() -> None:
    chat = ScriptedChat(
        [code_call("x = list_users()\nx[0]['nope']"), code_call("len(list_users())"), "8 users"]
    )
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("How many users?")
    first = tool_messages(chat, 1)[0]
    assert "KeyError: \"'nope' (this dict from a tool has the keys:" in first
    assert "line 2" in first
    assert tool_messages(chat, 2)[1] == "[value] 8"
    assert result.usage.code_executions == 2 and result.text == "8 users"


@pytest.mark.usefixtures("wasm_ready")
async def test_both_wirings_in_one_agent() -> None:
    sent: list[str] = []

    @tool
    def send_report(text: str) -> str:
        """Send the report."""
        sent.append(text)
        return "sent"

    chat = ScriptedChat(
        [
            code_call("print(get_tax_rate(region='EU'))"),
            call("send_report", text="EU tax is 0.21"),
            "Reported.",
        ]
    )
    agent = Agent(
        client=chat,
        codeact=CodeAct(tools=[order_totals.get_tax_rate], backend="wasm"),
        tools=[send_report, order_totals.get_tax_rate],  # the same tool in both places
    )
    result = await agent.run("Report the EU tax rate.")
    assert chat.requests[0].tool_names == ["send_report", "get_tax_rate", "execute_code"]
    assert tool_messages(chat, 1) == ["0.21"]
    assert sent == ["EU tax is 0.21"]
    usage = result.usage
    assert (usage.code_executions, usage.nested_tool_calls, usage.direct_tool_calls) == (1, 1, 1)


async def test_turn_limit_raises_with_the_partial_run() -> None:
    chat = FunctionChat(lambda request: call("add", a=1, b=1))
    with pytest.raises(TurnLimitExceeded, match="max_turns=3") as caught:
        await Agent(client=chat, tools=[add], max_turns=3).run("loop forever")
    partial = caught.value.result
    assert partial.usage.model_turns == 3 and partial.usage.direct_tool_calls == 3
    assert partial.usage.total_tokens > 0


class Totals(pydantic.BaseModel):
    top_user: str
    sum: float


async def test_structured_output_is_validated() -> None:
    chat = ScriptedChat(['```json\n{"top_user": "Diana", "sum": 334.15}\n```'])
    agent = Agent(client=chat, tools=[add], output_type=Totals)
    result = await agent.run("Who spent most?")
    assert result.output == Totals(top_user="Diana", sum=334.15)
    assert '"top_user"' in (chat.requests[0].messages[0].content or "")
    assert chat.requests[0].response_format is None  # not combined with tools


async def test_invalid_structured_output_gets_one_constrained_retry() -> None:
    chat = ScriptedChat(["Diana, 334.15", '{"top_user": "Diana", "sum": 334.15}'])
    result = await Agent(client=chat, tools=[add], output_type=Totals).run("Who?")
    assert result.output is not None and result.output.top_user == "Diana"
    retry = chat.requests[1]
    assert retry.tools == () and retry.response_format is not None
    assert retry.response_format["schema"] == Totals.model_json_schema()
    assert "not valid" in (retry.messages[-1].content or "")


async def test_structured_output_that_never_validates_raises() -> None:
    chat = ScriptedChat(["no", "still no"])
    with pytest.raises(OutputValidationError, match="does not match Totals") as caught:
        await Agent(client=chat, output_type=Totals).run("Who?")
    assert caught.value.result.usage.model_turns == 2


async def test_tool_calls_written_as_text_are_recovered_and_counted() -> None:
    text = 'I will add them.\n```json\n{"name": "add", "arguments": {"a": 40, "b": 2}}\n```'
    chat = ScriptedChat([text, "42"])
    result = await Agent(client=chat, tools=[add]).run("40 + 2?")
    assert tool_messages(chat, 1) == ["42"]
    assert result.usage.fallback_parses == 1 and result.usage.direct_tool_calls == 1
    assistant = result.messages[1]  # no system prompt: user, assistant, tool, assistant
    assert assistant.tool_calls[0].name == "add" and assistant.content is None


@pytest.mark.usefixtures("wasm_ready")
async def test_a_python_block_is_recovered_as_execute_code() -> None:
    chat = ScriptedChat(
        [
            "```python\nprint(get_tax_rate(region='US'))\n```",
            # The same program again, as a JSON call: it is not run a second time.
            '{"name": "execute_code", "arguments": {"code": "print(get_tax_rate(region=\'US\'))"}}',
            "The US tax rate is 0.08.",
        ]
    )
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("US tax?")
    assert tool_messages(chat, 1) == ["0.08"]
    assert tool_messages(chat, 2)[1].startswith("This exact program already ran")
    assert result.usage.fallback_parses == 2 and result.usage.code_executions == 1
    assert result.text == "The US tax rate is 0.08."


async def test_text_fallback_can_be_turned_off() -> None:
    chat = ScriptedChat(['{"name": "add", "arguments": {"a": 1, "b": 2}}'])
    result = await Agent(client=chat, tools=[add], text_tool_calls=False).run("1+2")
    assert result.usage.fallback_parses == 0 and result.usage.direct_tool_calls == 0
    assert result.text.startswith("{")


async def test_usage_sums_the_reported_tokens_and_timings_add_up() -> None:
    chat = ScriptedChat(
        [
            reply(None, call("add", a=1, b=2), usage=Usage(100, 10, 110)),
            reply(None, call("add", a=3, b=4), input_tokens=130, output_tokens=12),
            reply("3 and 7", usage=Usage(160, 5, 165)),
        ]
    )
    result = await Agent(client=chat, tools=[add]).run("sums")
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (390, 27, 417)
    assert usage.model_turns == 3 and usage.direct_tool_calls == 2
    timings = result.timings
    assert timings.total >= timings.model + timings.tools >= 0
    assert result.to_dict()["usage"]["tool_calls"] == 2


async def test_history_continues_a_conversation() -> None:
    chat = ScriptedChat(["first", "second"])
    agent = Agent(client=chat, instructions="sys")
    first = await agent.run("one")
    second = await agent.run("two", history=first.messages)
    assert second.text == "second"
    roles = [m.role for m in chat.requests[1].messages]
    assert roles == ["system", "user", "assistant", "user"]


def test_run_sync_reuses_one_loop() -> None:
    loops: list[Any] = []

    def reply_fn(request: ChatRequest) -> str:
        loops.append(asyncio.get_running_loop())
        return "hi"

    agent = Agent(client=FunctionChat(reply_fn))
    assert agent.run_sync("a").text == "hi" and agent.run_sync("b").text == "hi"
    assert loops[0] is loops[1]
    agent.close()


async def test_an_empty_reply_is_asked_to_continue() -> None:
    chat = ScriptedChat([call("add", a=1, b=1), "", "2"])
    result = await Agent(client=chat, tools=[add]).run("1+1")
    assert result.text == "2" and result.usage.nudges == 1
    nudge = chat.requests[2].messages[-1]
    assert nudge.role == "user" and nudge.content is not None
    assert nudge.content.startswith("Your reply was empty.")
    assert result.usage.model_turns == 3


@pytest.mark.usefixtures("wasm_ready")
async def test_giving_up_after_a_failed_program_gets_two_requests_to_fix_it() -> None:
    chat = ScriptedChat(
        [
            code_call("users = list_users()\nusers[0]['nope']"),
            "KeyError: 'nope'",  # the error as the "answer"
            "I will fix the program.",  # still no data: asked again, even after a nudge
            "Still KeyError.",  # the third reply stands
        ]
    )
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("First user's nope?")
    nudge = chat.requests[2].messages[-1].content or ""
    assert nudge.startswith("The program failed (KeyError: \"'nope' (this dict from a tool")
    assert "so there is no answer yet" in nudge
    assert chat.requests[3].messages[-1].content == nudge
    assert result.text == "Still KeyError." and result.usage.nudges == 2
    assert result.nudge_reasons == ["failed_program", "failed_program"]


@pytest.mark.usefixtures("wasm_ready")
async def test_a_failure_is_not_forgotten_behind_another_nudge() -> None:
    """Seen on the embedded model: a failed program, the same program again (refused), an
    empty reply, then "I need to call the functions again": that stood as the answer."""
    broken = code_call("users = list_users()\nusers[0]['nope']")
    chat = ScriptedChat(
        [broken, broken, "", "I need to run the corrected code.", code_call("print(8)"), "8"]
    )
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("How many users?")
    assert result.nudge_reasons == ["repeated_failed_program", "empty_reply", "failed_program"]
    assert (chat.requests[4].messages[-1].content or "").startswith("The program failed (KeyError")
    assert result.text == "8"


async def test_an_empty_first_reply_is_nudged_but_a_second_empty_one_stands() -> None:
    chat = ScriptedChat(["", ""])
    result = await Agent(client=chat).run("hi")
    assert result.text == "" and result.usage.nudges == 1 and result.usage.model_turns == 2


@pytest.mark.usefixtures("wasm_ready")
async def test_progress_names_each_programs_outcome_and_error() -> None:
    lines: list[str] = []
    chat = ScriptedChat([code_call("print(missing)"), code_call("print(len(list_users()))"), "8"])
    codeact = CodeAct(tools=order_totals.TOOLS, backend="wasm")
    await Agent(client=chat, codeact=codeact, progress=lines.append).run("How many users?")
    outcomes = [line for line in lines if "the program made" in line]
    assert outcomes == [
        "  execute_code: the program made 0 tool calls, failed: NameError: name 'missing' is "
        "not defined",
        "  execute_code: the program made 1 tool calls, ok",
    ]


def test_a_model_name_given_as_the_client_says_how_to_make_one() -> None:
    # was: AttributeError: 'str' object has no attribute 'model', at the first turn
    with pytest.raises(ConfigurationError, match=r"client=OpenAIChat\(model='gpt-4.1'\)"):
        Agent(client="gpt-4.1", codeact=CodeAct())  # type: ignore[arg-type]


@pytest.mark.usefixtures("wasm_ready")
async def test_progress_escapes_what_the_model_and_its_program_chose() -> None:
    """An exception type with escape sequences (retitle the terminal, clear it) and a tool
    name with one reach the progress lines escaped."""
    lines: list[str] = []
    raising = "Boom = type('Boom\\x1b]0;TITLE\\x07\\x1b[2J', (Exception,), {})\nraise Boom('x')"
    chat = ScriptedChat([[code_call(raising), call("no\x1b[2Jtool")], "done", "done", "done"])
    codeact = CodeAct(backend="wasm")
    await Agent(client=chat, codeact=codeact, progress=lines.append).run("go")
    assert lines and not any("\x1b" in line or "\x07" in line for line in lines), lines
    assert any("\\x1b]0;TITLE" in line for line in lines), lines


@pytest.mark.usefixtures("wasm_ready")
async def test_the_programs_of_one_reply_run_a_few_at_a_time() -> None:
    from codeact.agent.agent import PARALLEL_PROGRAMS

    running = peak = 0

    @tool
    async def enter() -> int:
        """Count the programs running now."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return peak

    calls = [code_call(f"enter() + {n}") for n in range(PARALLEL_PROGRAMS * 3)]
    chat = ScriptedChat([calls, "done"])
    result = await Agent(client=chat, codeact=CodeAct(tools=[enter], backend="wasm")).run("go")
    assert len(result.executions) == PARALLEL_PROGRAMS * 3
    assert all(e.ok for e in result.executions)
    assert 1 < peak <= PARALLEL_PROGRAMS
