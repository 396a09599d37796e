"""`Agent`: a small tool-calling loop that joins a chat client, direct tools and CodeAct.

A turn: send the conversation to the model; if it asks for tool calls, run them all
concurrently (direct tools through `DirectTools.invoke`, ``execute_code`` in a fresh
sandbox), append the results, and go again; a reply without tool calls is the answer.
The agent holds what its runs share; one run's loop and state are `AgentRun`
(`codeact.agent.agent_run`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import pydantic

from .._lifecycle import Closeable
from ..calls.approvals import ApprovalHandler
from ..chat.default import check_client, default_client
from ..chat.messages import ChatClient, Message, ToolDefinition, Usage
from ..errors import ChatError, ConfigurationError, UserError
from ..runtime import CodeAct, ExecuteCodeTool
from ..runtime._sync import PrivateLoop, refuse_inside_loop
from ..runtime.events import ExecutionEvent
from ..tools import Tool, ToolSet
from .agent_run import PARALLEL_PROGRAMS, AgentRun
from .direct_tools import DirectTools, direct_pipeline
from .options import check_options
from .output import OutputSpec
from .result import AgentResult
from .sessions import ConversationSessions
from .tracing import agent_span, capture_of, set_usage
from .turn_budget import DEFAULT_TURN_OUTPUT

__all__ = ["PARALLEL_PROGRAMS", "Agent", "HistoryItem"]

#: One message of ``history=``: a `Message`, or its OpenAI form (`Message.to_openai`).
HistoryItem: TypeAlias = Message | Mapping[str, Any]


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
        on_program_event: Called with the model's call id and each event of each program
            as it happens (`codeact.runtime.events`: its output as it is written, its tool
            calls starting and ending, and last `ExecutionFinished`), on the event loop that
            runs the agent; a plain function (an ``async def`` is refused), and one that
            raises is logged, not fatal. Programs of one reply may run at once: the call id
            tells their events apart.
        session: Programs of one run share a `codeact.Session`: what one program defines,
            the next one can use (and the model is told so). A run whose ``history=``
            continues an earlier run's conversation starts from a copy of the state that
            run ended with: every continuation of one prefix starts from the same state
            (`codeact.agent.sessions`; the last 64 conversations are kept).
        tools_required: The task needs the tools: an answer given before any tool ran gets
            one request to use them (a nudge, counted in ``usage.nudges``).
        max_turn_output: Characters of tool results one turn adds to the conversation, all
            its calls together (default 1 MiB of text); results past it keep their first
            2,000 characters and say what was cut (the history is sent on every turn).
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
        on_program_event: Callable[[str, ExecutionEvent], Any] | None = None,
        session: bool = False,
        tools_required: bool = False,
        max_turn_output: int = DEFAULT_TURN_OUTPUT,
    ) -> None:
        check_options(
            instructions=instructions,
            max_turns=max_turns,
            output_retries=output_retries,
            flags={
                "text_tool_calls": text_tool_calls,
                "session": session,
                "tools_required": tools_required,
            },
            callbacks={"progress": progress, "on_program_event": on_program_event},
        )
        if (
            not isinstance(max_turn_output, int)
            or isinstance(max_turn_output, bool)
            or not 1000 <= max_turn_output <= 1 << 30
        ):
            raise ConfigurationError(
                "max_turn_output must be a whole number of characters between 1000 and "
                f"1_073_741_824, got {max_turn_output!r}"
            )
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
        self.max_turn_output = max_turn_output
        self.text_tool_calls = text_tool_calls
        self.output_retries = output_retries
        self.progress = progress
        self.on_program_event = on_program_event
        self.tools_required = tools_required
        self._sync = PrivateLoop(self, name="codeact-agent")
        self._client_lock = threading.Lock()

    @property
    def client(self) -> ChatClient:
        """The chat client (created from the environment on first use when none was given)."""
        client = self._client
        if client is None:
            with self._client_lock:  # one client, whichever threads ask at once
                if self._client is None:
                    self._client = default_client()
                client = self._client
        return client

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
    async def run(self, prompt: str, *, history: Sequence[HistoryItem] = ()) -> AgentResult:
        """Run the loop for `prompt` (after `history`, e.g. a previous result's messages, as
        `Message` objects or as the dicts `Message.to_openai` gives, e.g. loaded from JSON).

        Raises `TurnLimitExceeded` or `OutputValidationError`, and `ChatError` when the model
        cannot be reached; each with the partial result (the costs so far) as `.result`.
        """
        if not isinstance(prompt, str):
            raise UserError(f"prompt must be a str, got {type(prompt).__name__}")
        earlier = history_messages(history)
        run = AgentRun(self)
        if self.sessions is not None:
            run.session = self.sessions.for_run(earlier)
        if earlier:
            run.messages += earlier
        else:
            system = self.system_prompt()
            if system:
                run.messages.append(Message.system(system))
        run.messages.append(Message.user(prompt))
        with agent_span(
            self._tracer_provider(), model=run.client.model, capture=capture_of(self.codeact)
        ) as span:
            try:
                await run.resolve_model(span)
                return await run.loop()
            except ChatError as exc:
                exc.result = run.result  # the run so far: its costs are not lost
                raise
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

    def run_sync(self, prompt: str, *, history: Sequence[HistoryItem] = ()) -> AgentResult:
        """`run` for code without an event loop (a private loop thread, reused across calls)."""
        refuse_inside_loop("run_sync()", "await agent.run(...)")
        return self._sync.get().run(self.run(prompt, history=history))

    async def aclose(self) -> None:
        """Close the chat client if this agent created it (e.g. stop the embedded model)."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def close(self) -> None:
        """Synchronous `aclose`, for agents used with `run_sync` (an agent that is collected
        stops `run_sync`'s loop thread too; its own chat client is closed only here)."""
        thread = self._sync.current()
        if thread is not None:
            thread.wait_idle()  # a run_sync in another thread ends before its client closes
            try:
                thread.run(self.aclose())
            finally:
                self._sync.close()
        elif self._owns_client and self._client is not None:
            asyncio.run(self.aclose())

    def __repr__(self) -> str:
        codeact = f", codeact={self.codeact!r}" if self.codeact else ""
        return f"Agent(tools=[{self.direct.tools.describe_names()}]{codeact})"


_HISTORY_TAKES = (
    "history takes a list of Message objects or of OpenAI-style message dicts "
    "(what Message.to_openai() gives, e.g. loaded from JSON)"
)


def history_messages(history: object) -> list[Message]:
    """`history` as messages: dicts converted with `Message.from_openai`; anything else is a
    `UserError` saying what ``history=`` takes."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise UserError(f"{_HISTORY_TAKES}, got {type(history).__name__}")
    messages = []
    for i, item in enumerate(history):
        if isinstance(item, Message):
            messages.append(item)
        elif isinstance(item, Mapping):
            try:
                messages.append(Message.from_openai(item))
            except ValueError as exc:
                raise UserError(f"{_HISTORY_TAKES}; history[{i}]: {exc}") from None
        else:
            raise UserError(f"{_HISTORY_TAKES}; history[{i}] is a {type(item).__name__}")
    return messages
