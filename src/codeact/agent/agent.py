"""`Agent`: a small tool-calling loop that joins a chat client, direct tools and CodeAct.

A turn: send the conversation to the model; if it asks for tool calls, run them all
concurrently (direct tools through `DirectTools.invoke`, ``execute_code`` in a fresh
sandbox), append the results, and go again; a reply without tool calls is the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pydantic

from .._display import visible
from .._lifecycle import Closeable
from ..bridge.protocol import ToolCallRecord
from ..calls.approvals import ApprovalHandler
from ..chat.default import check_client, default_client
from ..chat.fallback import parse_text_tool_calls
from ..chat.messages import (
    ChatClient,
    ChatResponse,
    Message,
    ToolCall,
    ToolDefinition,
    Usage,
    complete_with,
)
from ..errors import ConfigurationError, OutputValidationError, TurnLimitExceeded, UserError
from ..runtime import CodeAct, ExecuteCodeTool, ExecutionResult, Session
from ..runtime._sync import LoopThread, refuse_inside_loop
from ..tools import Tool, ToolSet
from ..tools.toolset import shown_name
from .direct_tools import DirectTools, direct_pipeline, model_text
from .nudges import Nudges, ReplyFacts, unwrap_response
from .output import OutputSpec
from .programs import ProgramCalls
from .result import AgentResult, AgentTimings, AgentUsage
from .sessions import ConversationSessions
from .tracing import agent_span, chat_span, direct_call_span, end_call, set_usage

__all__ = ["PARALLEL_PROGRAMS", "Agent"]

#: Programs (execute_code calls) of one model reply that run at once; the rest wait their
#: turn. Direct tool calls of a reply all run at once.
PARALLEL_PROGRAMS = 4


class Agent(Closeable):
    """An agent with direct tools, CodeAct, or both.

    >>> from codeact.testing import ScriptedChat
    >>> agent = Agent(client=ScriptedChat(["Paris."]), instructions="Be brief.")
    >>> agent.run_sync("Capital of France?").text
    'Paris.'

    Args:
        client: The chat client (default: `codeact.chat.default_client()`, i.e. the
            configured endpoint or else the embedded model; such a client is closed by
            `aclose`).
        instructions: The system prompt. With `codeact`, its instructions are appended.
        codeact: Tools reachable only from code, through one ``execute_code`` tool.
        tools: Direct tools: the model calls each one as its own tool call, one turn per batch.
        output_type: A pydantic model: the final answer must be JSON of this shape, and
            `AgentResult.output` is the validated instance.
        max_turns: Model requests one run may make before `TurnLimitExceeded`.
        approval_handler: Decides calls of direct tools with
            ``approval_mode="always_require"``: an async callable given an
            `codeact.ApprovalRequest`, returning True/False or an `codeact.Approval`. Direct
            calls otherwise go through the CodeAct's pipeline (its middleware, handler,
            redaction and audit); a gated direct tool needs a handler in one of the two.
        text_tool_calls: Recover tool calls that the model wrote as text (counted in
            ``usage.fallback_parses``). Turn off for models with reliable native calls.
        output_retries: Extra turns for a final answer that does not validate.
        progress: Called with a one-line account of each model reply and each tool result
            (e.g. ``print``), for people watching a slow model work.
        session: Programs of one run share a `codeact.Session`: what one program defines,
            the next one can use (and the model is told so). A run whose ``history=``
            continues an earlier run's conversation gets that run's session back.
        tools_required: The task needs the tools: an answer given before any tool ran gets
            one request to use them (a nudge, counted in ``usage.nudges``).
    """

    def __init__(
        self,
        *,
        client: ChatClient | None = None,
        instructions: str = "",
        codeact: CodeAct | None = None,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        output_type: type[pydantic.BaseModel] | None = None,
        max_turns: int = 10,
        approval_handler: ApprovalHandler | None = None,
        text_tool_calls: bool = True,
        output_retries: int = 1,
        progress: Callable[[str], None] | None = None,
        session: bool = False,
        tools_required: bool = False,
    ) -> None:
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ConfigurationError(f"max_turns must be a positive integer, got {max_turns!r}")
        if codeact is not None and not isinstance(codeact, CodeAct):
            raise ConfigurationError(
                f"codeact must be a codeact.CodeAct, got {type(codeact).__name__}"
            )
        if session and codeact is None:
            raise ConfigurationError("session=True needs codeact=CodeAct(...): it keeps its state")
        check_client(client)
        self._client = client
        self._owns_client = client is None
        self.instructions = instructions
        self.codeact = codeact
        self.code_tool: ExecuteCodeTool | None = (
            ExecuteCodeTool(codeact, persistent=bool(session)) if codeact else None
        )
        self.sessions = ConversationSessions(codeact) if session and codeact else None
        direct_tools = ToolSet(tools)
        self.direct = DirectTools(
            direct_tools,
            pipeline=direct_pipeline(direct_tools, codeact, approval_handler),
            timeout=codeact.limits.tool_timeout if codeact is not None else 30.0,
        )
        if self.code_tool is not None and self.code_tool.name in self.direct:
            raise ConfigurationError(
                f"a direct tool is named {self.code_tool.name!r}, the name of CodeAct's tool; "
                "rename it with @tool(name=...)"
            )
        self.output = OutputSpec(output_type) if output_type is not None else None
        self.max_turns = max_turns
        self.text_tool_calls = text_tool_calls
        self.output_retries = output_retries
        self.progress = progress
        self.tools_required = tools_required
        self._sync: LoopThread | None = None

    @property
    def client(self) -> ChatClient:
        """The chat client (created from the environment on first use when none was given)."""
        if self._client is None:
            self._client = default_client()
        return self._client

    def system_prompt(self) -> str:
        """The system prompt: the instructions, CodeAct's instructions, the output schema."""
        parts = [self.instructions.strip()]
        if self.codeact is not None and self.code_tool is not None:
            parts.append(self.codeact.build_instructions(session=self.sessions is not None))
        if self.output is not None:
            parts.append(self.output.instructions())
        return "\n\n".join(p for p in parts if p)

    def tool_definitions(self) -> list[ToolDefinition]:
        """What the model is offered: the direct tools, then ``execute_code``."""
        definitions = self.direct.definitions()
        if self.code_tool is not None:
            tool = self.code_tool
            definitions.append(ToolDefinition(tool.name, tool.description, tool.parameters))
        return definitions

    # -- running -------------------------------------------------------------------------
    async def run(self, prompt: str, *, history: Sequence[Message] = ()) -> AgentResult:
        """Run the loop for `prompt` (after `history`, e.g. a previous result's messages).

        Raises `TurnLimitExceeded` or `OutputValidationError` (with the partial result as
        `.result`) and `ChatError` when the model cannot be reached.
        """
        if not isinstance(prompt, str):
            raise UserError(f"prompt must be a str, got {type(prompt).__name__}")
        run = _Run(self)
        if self.sessions is not None:
            run.session = self.sessions.for_run(history)
        if history:
            run.messages += list(history)
        else:
            system = self.system_prompt()
            if system:
                run.messages.append(Message.system(system))
        run.messages.append(Message.user(prompt))
        with agent_span(self._tracer_provider(), model=run.client.model) as span:
            try:
                return await run.loop()
            finally:
                run.finish()
                if self.sessions is not None and run.session is not None:
                    self.sessions.remember(run.messages, run.session)
                set_usage(
                    span,
                    Usage(run.usage.input_tokens, run.usage.output_tokens, run.usage.total_tokens),
                )

    def _tracer_provider(self) -> Any:
        """The CodeAct's tracer provider when it has one (else the global, if in use)."""
        return getattr(self.codeact, "_tracer_provider", None)

    def run_sync(self, prompt: str, *, history: Sequence[Message] = ()) -> AgentResult:
        """`run` for code without an event loop (a private loop thread, reused across calls)."""
        refuse_inside_loop("run_sync()", "await agent.run(...)")
        if self._sync is None:
            self._sync = LoopThread(name="codeact-agent")
        return self._sync.run(self.run(prompt, history=history))

    async def aclose(self) -> None:
        """Close the chat client if this agent created it (e.g. stop the embedded model)."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def close(self) -> None:
        """Synchronous `aclose`, for agents used with `run_sync`."""
        if self._sync is not None:
            self._sync.run(self.aclose())
            self._sync.close()
            self._sync = None
        elif self._owns_client and self._client is not None:
            asyncio.run(self.aclose())

    def __repr__(self) -> str:
        codeact = f", codeact={self.codeact!r}" if self.codeact else ""
        return f"Agent(tools=[{self.direct.tools.describe_names()}]{codeact})"


class _Run:
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
        self.programs = ProgramCalls(
            self.result,
            self.usage,
            self.timings,
            progress=agent.progress,
            count_nudge=self._count_nudge,
        )

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
            self.result.text = unwrap_response((response.text or "").strip())
            nudge = self._nudge_for(self.result.text, response, tools)
            if nudge is not None and turn < agent.max_turns:
                self._count_nudge(nudge[0])
                self._nudged = True
                self.messages.append(Message.user(nudge[1]))
                continue
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
        """Keep what the turn's last program printed when that program is the last thing the
        model saw (no direct call after it): the answer should then state it."""
        code_tool = self.agent.code_tool
        only_code = code_tool is not None and all(c.name == code_tool.name for c in calls)
        self._fresh_output = ran[-1].stdout if only_code and ran and ran[-1].ok else None

    def _count_nudge(self, kind: str) -> None:
        self.usage.nudges += 1
        self.result.nudge_reasons.append(kind)
        if self.agent.progress is not None:
            self.agent.progress(f"  nudge: {kind}")

    async def _ask(self, *, tools: Sequence[ToolDefinition], constrained: bool) -> ChatResponse:
        output = self.agent.output
        started, choice = time.perf_counter(), self.programs.tool_choice(tools)
        with chat_span(self.agent._tracer_provider(), model=self.client.model) as span:
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
        calls = parse_text_tool_calls(
            response.text,
            [t.name for t in tools],
            code_tool=code_tool,
            id_prefix=f"text_call_{turn}",
        )
        if calls:
            self.usage.fallback_parses += 1
        return tuple(calls)

    async def _run_calls(self, calls: Sequence[ToolCall]) -> None:
        """Run every call of one turn concurrently, at most `PARALLEL_PROGRAMS` programs at a
        time (the model chooses how many it sends: each sandbox holds memory, and one reply
        with a thousand programs must not start a thousand); record and answer them in call
        order."""
        programs = asyncio.Semaphore(PARALLEL_PROGRAMS)

        async def run(call: ToolCall) -> tuple[str, ToolCallRecord | None]:
            code_tool = self.agent.code_tool
            if code_tool is None or call.name != code_tool.name:
                return await self._run_one(call)
            async with programs:
                return await self._run_one(call)

        outcomes = await asyncio.gather(*(run(call) for call in calls))
        for call, (content, record) in zip(calls, outcomes, strict=True):
            if record is not None:
                self.result.tool_calls.append(record)
            self.messages.append(Message.tool(call, content))

    async def _run_one(self, call: ToolCall) -> tuple[str, ToolCallRecord | None]:
        code_tool = self.agent.code_tool
        if code_tool is not None and call.name == code_tool.name:
            return await self.programs.run(code_tool, call, self.session), None
        with direct_call_span(self.agent._tracer_provider(), call.name) as span:
            outcome = await self.agent.direct.invoke(
                call, history=tuple(self.result.tool_calls), started=self.started_mono
            )
            end_call(span, outcome.record)
        self.usage.direct_tool_calls += 1
        self.timings.tools += outcome.record.duration_ms / 1000
        if call.name not in self.agent.direct:  # recorded as the audit sees it; the model is
            # told every tool it was offered (execute_code too), and a call without a name so
            return f"Error: {self._no_such_tool(call.name)}", outcome.record
        return model_text(outcome), outcome.record

    def _no_such_tool(self, name: str) -> str:
        offered = ", ".join(t.name for t in self.agent.tool_definitions()) or "(none)"
        what = f"there is no tool named {shown_name(name)}" if name else "the call names no tool"
        return f"{what}; the tools are: {offered}"
