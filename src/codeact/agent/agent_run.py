"""`AgentRun`: one `Agent.run`, its loop of turns and the state it keeps.

A turn asks the model (`_ask`), takes the tool calls of its reply (native, or recovered from
its text), runs them concurrently (at most `PARALLEL_PROGRAMS` programs at a time) and
answers them in order; a reply without calls is the answer, unless it earns a nudge
(`codeact.agent.nudges`) or, with an output type, fails to validate and gets a retry.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pydantic

from .._display import visible
from ..bridge.protocol import ToolCallRecord
from ..chat.fallback import parse_text_tool_calls
from ..chat.messages import ChatResponse, Message, ToolCall, ToolDefinition, complete_with
from ..errors import OutputValidationError, TurnLimitExceeded
from ..runtime import ExecutionResult, Session
from ..runtime.tracing import name_text
from ..tools.toolset import shown_name
from .direct_tools import model_text
from .nudges import Nudges, ReplyFacts, unwrap_response
from .programs import ProgramCalls
from .result import AgentResult, AgentTimings, AgentUsage
from .tracing import capture_of, chat_span, direct_call_span, end_call, set_usage
from .turn_budget import within_budget

if TYPE_CHECKING:
    from .agent import Agent

__all__ = ["PARALLEL_PROGRAMS", "AgentRun"]

#: How the ids of calls recovered from a reply's text begin (``text_call_<turn>_<n>``).
_TEXT_CALL = "text_call_"

#: Programs (execute_code calls) of one model reply that run at once; the rest wait their
#: turn. Direct tool calls of a reply all run at once.
PARALLEL_PROGRAMS = 4


class AgentRun:
    """The state of one `Agent.run`: conversation, counters and clocks."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.client = agent.client
        self.messages: list[Message] = []
        self.usage = AgentUsage()
        self.timings = AgentTimings()
        self.result = AgentResult(text="", model=self.client.model, usage=self.usage)
        self.result.timings, self.result.messages = self.timings, self.messages
        self.started = time.perf_counter()
        self.started_mono = time.monotonic()  # the clock of the call records
        self._last_ask_s = 0.0
        self._nudged = False  # the last request ended with a nudge
        self.session: Session | None = None  # with Agent(session=True): this run's
        self._nudges = Nudges()
        self._fresh_output: str | None = None  # printed by the last turn's program, if it ran ok
        # Not a bound method: `programs` holding the run would make a cycle, and the agent
        # (with `run_sync`'s loop thread) would wait for the cyclic GC to be freed.
        self._count_nudge = _nudge_counter(self.usage, self.result, agent.progress)
        self.programs = ProgramCalls(
            self.result,
            self.usage,
            self.timings,
            progress=agent.progress,
            count_nudge=self._count_nudge,
            on_event=agent.on_program_event,
        )

    async def resolve_model(self, span: Any) -> None:
        """Learn the model's name first from a client that asks its server for it
        (`OpenAIChat` without ``model=`` has ``resolve_model``), so that the result and the
        run's spans name the model from the first run on, not a placeholder."""
        resolve = getattr(self.client, "resolve_model", None)
        if not inspect.iscoroutinefunction(resolve):
            return
        await resolve()
        self.result.model = self.client.model
        if span is not None:
            span.set_attribute("gen_ai.request.model", name_text(self.result.model))

    def finish(self) -> None:
        self.timings.total = time.perf_counter() - self.started

    async def loop(self) -> AgentResult:
        agent = self.agent
        tools = agent.tool_definitions()
        output_retries = agent.output_retries
        constrained = False
        for turn in range(1, agent.max_turns + 1):
            response = await self._ask(tools=() if constrained else tools, constrained=constrained)
            calls = self._calls_of(response, tools, turn)
            # Calls recovered from text are kept as the native calls they stand for: the next
            # request then shows the model the format it should have used, without the text.
            text = None if calls and not response.tool_calls else response.text
            self.messages.append(Message.assistant(text, calls))
            self._report_reply(turn, response, calls)
            if calls:
                self._nudged, self.programs.last_error = False, None
                ran = len(self.result.executions)
                await self._run_calls(calls)
                self._note_output(calls, self.result.executions[ran:])
                continue
            answer = unwrap_response((response.text or "").strip())
            nudge = self._nudge_for(answer, response, tools)
            if nudge is not None and turn < agent.max_turns:
                # Not taken as the answer, so not the partial run's answer either: a grader
                # of `TurnLimitExceeded.result.text` would score a reply the agent rejected.
                self._count_nudge(nudge[0])
                self._nudged = True
                self.messages.append(Message.user(nudge[1]))
                continue
            self.result.text = answer
            if agent.output is None:
                return self.result
            try:
                self.result.output = agent.output.parse(self.result.text)
                return self.result
            except pydantic.ValidationError as exc:
                if output_retries <= 0 or turn == agent.max_turns:
                    self.finish()
                    raise OutputValidationError(
                        f"the final answer does not match {agent.output.model.__name__}: "
                        f"{' '.join(str(exc).split())[:300]}",
                        result=self.result,
                    ) from exc
                output_retries -= 1
                constrained = True
                self.result.text = ""  # rejected too: only the retry's reply may be the answer
                self.messages.append(Message.user(agent.output.retry_prompt(exc)))
        self.finish()
        raise TurnLimitExceeded(
            f"the model was still calling tools after max_turns={agent.max_turns} turns",
            result=self.result,
        )

    def _nudge_for(
        self, text: str, response: ChatResponse, tools: Sequence[ToolDefinition]
    ) -> tuple[str, str] | None:
        """``(kind, message)`` when a reply without tool calls is not an answer yet
        (`codeact.agent.nudges`): each kind gets one request to continue (on the same turn
        budget); a reply right after a nudge stands unless it is no answer at all."""
        error = self.programs.last_error  # kept until the model makes calls again
        code_tool = self.agent.code_tool.name if self.agent.code_tool else None
        return self._nudges.check(
            ReplyFacts(
                text=text,
                finish_reason=response.finish_reason,
                failed_error=error,
                last_output=self._fresh_output,
                warning=self.programs.last_warning,
                tool_names=[t.name for t in tools],
                code_tool=code_tool if any(t.name == code_tool for t in tools) else None,
                sandbox_functions=self.agent.codeact.tools.names() if self.agent.codeact else (),
                tools_used=bool(self.result.executions or self.result.tool_calls),
                tools_required=self.agent.tools_required,
            ),
            after_nudge=self._nudged,  # a reply to a nudge stands, unless it is no answer
        )

    def _note_output(self, calls: Sequence[ToolCall], ran: Sequence[ExecutionResult]) -> None:
        """Keep what the turn's last program printed, and its value, when that program is the
        last thing the model saw (no direct call after it): the answer should then state it
        (a reply stating only the value was told it stated nothing the program printed)."""
        code_tool = self.agent.code_tool
        only_code = code_tool is not None and all(c.name == code_tool.name for c in calls)
        last = ran[-1] if only_code and ran and ran[-1].ok else None
        # Only a program that printed asks for its output in the answer (as before); its
        # value counts as output the answer may state.
        printed = last is not None and bool(last.stdout.strip())
        self._fresh_output = _printed_and_value(last) if last is not None and printed else None

    async def _ask(self, *, tools: Sequence[ToolDefinition], constrained: bool) -> ChatResponse:
        output = self.agent.output
        started, choice = time.perf_counter(), self.programs.tool_choice(tools)
        agent = self.agent
        with chat_span(
            agent._tracer_provider(), model=self.client.model, capture=capture_of(agent.codeact)
        ) as span:
            try:
                response = await complete_with(  # tool_choice "required": a retry is due
                    self.client,
                    list(self.messages),
                    tools=tools,
                    response_format=output.response_format() if (output and constrained) else None,
                    tool_choice=choice,
                )
            finally:
                self._last_ask_s = time.perf_counter() - started
                self.timings.model += self._last_ask_s
            set_usage(span, response.usage, model=response.model)
        self.usage.model_turns += 1
        self.usage.add_tokens(response.usage)
        return response

    def _report_reply(self, turn: int, response: ChatResponse, calls: Sequence[ToolCall]) -> None:
        if self.agent.progress is None:
            return
        u = response.usage
        what = ", ".join(c.name for c in calls) if calls else "the answer"
        if calls and not response.tool_calls:
            what += " (written as text in the reply, not as a tool call; codeact parsed it)"
        self.agent.progress(  # tool names are the model's text: escaped
            f"turn {turn}: the model replied in {self._last_ask_s:.1f} s "
            f"({u.input_tokens:,} tokens in, {u.output_tokens:,} out): "
            + visible(what, newlines=False)
        )

    def _calls_of(
        self, response: ChatResponse, tools: Sequence[ToolDefinition], turn: int
    ) -> tuple[ToolCall, ...]:
        if response.tool_calls or not self.agent.text_tool_calls or not tools:
            return response.tool_calls
        code_tool = self.agent.code_tool.name if self.agent.code_tool else None
        codeact = self.agent.codeact
        calls = parse_text_tool_calls(
            response.text,
            [t.name for t in tools],
            code_tool=code_tool,
            id_prefix=f"{_TEXT_CALL}{turn}",
            fences=not self._calls_natively(),
            code_functions=codeact.tools.names() if codeact is not None else (),
        )
        if calls:
            self.usage.fallback_parses += 1
        return tuple(calls)

    def _calls_natively(self) -> bool:
        """Whether the model has made a native tool call in this conversation (one not
        recovered from its text, from a client that does not read calls out of the model's
        text itself, as `LocalChat` does): its code fences are then answers, not programs
        (`codeact.chat.fence_programs`)."""
        if getattr(self.client, "reads_calls_from_text", False):
            return False
        return any(
            not call.id.startswith(_TEXT_CALL)
            for message in self.messages
            if message.role == "assistant"
            for call in message.tool_calls
        )

    async def _run_calls(self, calls: Sequence[ToolCall]) -> None:
        """Run every call of one turn concurrently, at most `PARALLEL_PROGRAMS` programs at a
        time (the model chooses how many it sends: each sandbox holds memory, and one reply
        with a thousand programs must not start a thousand); record and answer them in call
        order, their texts together within `Agent.max_turn_output` (`turn_budget`)."""
        programs = asyncio.Semaphore(PARALLEL_PROGRAMS)

        async def run(call: ToolCall) -> tuple[str, ToolCallRecord | None]:
            code_tool = self.agent.code_tool
            if code_tool is None or call.name != code_tool.name:
                return await self._run_one(call)
            async with programs:
                return await self._run_one(call)

        spent_before = self.timings.calls()
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(run(call) for call in calls))
        self.timings.fit_calls(spent_before, time.perf_counter() - started)
        budget = self.agent.max_turn_output
        left = budget
        for call, (content, record) in zip(calls, outcomes, strict=True):
            if record is not None:
                self.result.tool_calls.append(record)
            content, left = within_budget(content, left, budget)
            self.messages.append(Message.tool(call, content))

    async def _run_one(self, call: ToolCall) -> tuple[str, ToolCallRecord | None]:
        code_tool = self.agent.code_tool
        if code_tool is not None and call.name == code_tool.name:
            return await self.programs.run(code_tool, call, self.session), None
        capture = capture_of(self.agent.codeact)
        with direct_call_span(self.agent._tracer_provider(), call, capture=capture) as span:
            outcome = await self.agent.direct.invoke(
                call, history=tuple(self.result.tool_calls), started=self.started_mono
            )
            end_call(span, outcome.record, capture=capture)
        self.usage.direct_tool_calls += 1
        waited = outcome.record.approval_ms  # a person's decision: not the tool's time
        self.timings.tools += max(outcome.record.duration_ms - waited, 0.0) / 1000
        self.timings.approval += waited / 1000
        if call.name not in self.agent.direct:  # recorded as the audit sees it; the model is
            # told every tool it was offered (execute_code too), and a call without a name so
            return f"Error: {self._no_such_tool(call.name)}", outcome.record
        return model_text(outcome), outcome.record

    def _no_such_tool(self, name: str) -> str:
        offered = ", ".join(t.name for t in self.agent.tool_definitions()) or "(none)"
        what = f"there is no tool named {shown_name(name)}" if name else "the call names no tool"
        return f"{what}; the tools are: {offered}"


def _nudge_counter(
    usage: AgentUsage, result: AgentResult, progress: Callable[[str], None] | None
) -> Callable[[str], None]:
    def count_nudge(kind: str) -> None:
        usage.nudges += 1
        result.nudge_reasons.append(kind)
        if progress is not None:
            progress(f"  nudge: {kind}")

    return count_nudge


def _printed_and_value(result: ExecutionResult) -> str:
    """What the program printed, then its value's text (as the model was shown it)."""
    if result.value is None and not result.value_repr:
        return result.stdout
    try:
        shown = result.value_repr or json.dumps(result.value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        shown = repr(result.value)
    return f"{result.stdout.rstrip()}\n{shown}" if result.stdout.strip() else shown
