"""What one `Agent.run` returns: the answer, the tokens and turns it cost, and where time went."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..bridge.protocol import ToolCallRecord
from ..chat.messages import Message, Usage
from ..runtime.result import ExecutionResult

__all__ = ["AgentResult", "AgentTimings", "AgentUsage"]


@dataclass
class AgentUsage:
    """Tokens as the API reported them, and how many turns and calls a run took.

    ``direct_tool_calls`` counts calls of direct tools (one model turn each batch);
    ``code_executions`` counts ``execute_code`` calls; ``nested_tool_calls`` counts the tool
    calls those programs made. ``fallback_parses`` counts replies whose tool calls were
    recovered from text because the model did not make native tool calls
    (`codeact.chat.parse_text_tool_calls`). ``nudges`` counts the requests to continue
    instead of taking a reply as the answer (empty, cut at the token limit, a failed program,
    a program repeated after it failed, ...: `codeact.agent.nudges`; their kinds are
    `AgentResult.nudge_reasons`).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    model_turns: int = 0
    direct_tool_calls: int = 0
    code_executions: int = 0
    nested_tool_calls: int = 0
    fallback_parses: int = 0
    nudges: int = 0

    @property
    def tool_calls(self) -> int:
        """Calls of the host's tools, however they were reached (direct + from code)."""
        return self.direct_tool_calls + self.nested_tool_calls

    def add_tokens(self, usage: Usage) -> None:
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.total_tokens += usage.total_tokens

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "tool_calls": self.tool_calls}


@dataclass
class AgentTimings:
    """Seconds of the run's wall time: in total, waiting for the model, running programs in
    the sandbox (not counting their tool calls or approval waits), inside tool functions
    (direct and nested, without approval waits), and waiting for approval decisions (a
    person's, of direct calls, nested calls and programs).

    The calls of one model reply run at the same time; where their figures add up to more
    than the time the turn's calls took together (four programs of 1 s each, run at once in
    1.2 s), that turn's `sandbox`, `tools` and `approval` are scaled down to it, each in
    proportion. So they are shares of the wall time, and ``model + sandbox + tools +
    approval`` never exceeds `total`.
    """

    total: float = 0.0
    model: float = 0.0
    sandbox: float = 0.0
    tools: float = 0.0
    approval: float = 0.0

    def calls(self) -> tuple[float, float, float]:
        """``(sandbox, tools, approval)`` so far: taken before a turn's calls start."""
        return self.sandbox, self.tools, self.approval

    def fit_calls(self, before: tuple[float, float, float], wall: float) -> None:
        """Scale what a turn's calls added since `before` (`calls`) down to `wall`, the
        seconds they took together, where overlapping calls added more than that."""
        added = [now - then for now, then in zip(self.calls(), before, strict=True)]
        summed = sum(added)
        if summed <= wall or summed <= 0:
            return
        share = max(wall, 0.0) / summed
        self.sandbox, self.tools, self.approval = (
            then + spent * share for then, spent in zip(before, added, strict=True)
        )

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}


@dataclass
class AgentResult:
    """The outcome of `Agent.run`.

    `text` is the model's final answer: never a reply the agent rejected (one it asked the
    model to continue from, or to send again valid), which is only in `messages`; so it is
    empty in `TurnLimitExceeded.result` (`OutputValidationError.result.text` is the answer
    that did not validate). `output` is the validated structured output when the
    agent has an `output_type`; `messages` the whole conversation, ready to pass back as
    `history`; `tool_calls` every direct tool call; `executions` every `execute_code` result and
    `programs` the code of each.
    """

    text: str
    model: str
    output: Any = None
    usage: AgentUsage = field(default_factory=AgentUsage)
    timings: AgentTimings = field(default_factory=AgentTimings)
    messages: list[Message] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    executions: list[ExecutionResult] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)  #: the code of each execution
    #: Programs not run because they defined functions that already exist in the sandbox.
    refused_programs: int = 0
    #: What the last program that ran without an error printed (None if none did).
    program_output: str | None = None
    #: The kind of each nudge (`codeact.agent.nudges.NUDGE_KINDS`), in order.
    nudge_reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "output": self.output.model_dump(mode="json")
            if hasattr(self.output, "model_dump")
            else self.output,
            "usage": self.usage.to_dict(),
            "nudge_reasons": list(self.nudge_reasons),
            "program_output": self.program_output,
            "timings": self.timings.to_dict(),
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "executions": [
                {"code": code, **e.to_dict()}
                for code, e in zip(self.programs, self.executions, strict=True)
            ],
        }
