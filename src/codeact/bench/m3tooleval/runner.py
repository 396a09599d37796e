"""Run M3ToolEval tasks through codeact's `Agent`, in either wiring, and record each run.

* ``codeact``: the domain's tools are reachable only from code, through ``execute_code``;
* ``direct``: the same tools are ordinary tool calls, one model turn per batch of calls.

Both wirings get the same model, the same instructions (`INSTRUCTIONS`) and the task's
instruction as the prompt, and the same turn budget (10, as in the original benchmark). The
answer is checked once, on the final reply (`answer.is_correct`); unlike the original harness
the model is not told that a wrong answer is wrong and asked again. A run that fails (turn
limit, model error) is a run with ``correct=False`` and its failure: counted, never dropped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from ...agent import Agent, AgentResult
from ...chat.messages import ChatClient
from ...errors import AgentError, CodeActError, TurnLimitExceeded, UserError
from ...runtime import CodeAct
from .answer import extract_answer, is_correct
from .tasks import Task
from .tools import tools_for

__all__ = [
    "FAILURES",
    "INSTRUCTIONS",
    "MAX_TURNS",
    "WIRINGS",
    "TaskRun",
    "Wiring",
    "run_task",
    "run_tasks",
]

Wiring: TypeAlias = Literal["codeact", "direct"]
WIRINGS: tuple[Wiring, ...] = ("codeact", "direct")

#: The original benchmark's turn limit.
MAX_TURNS = 10

#: What both wirings are told (CodeAct adds its own tool instructions after it).
INSTRUCTIONS = (
    "Solve the task with the tools: use them for all data and all calculations, never "
    "invent their results. When you have the result, reply with one final line "
    "'Answer: <answer>' that holds only the answer in the form the task asks for (e.g. a "
    "single number, a name, or a Python list like [1, 2])."
)

#: The failure modes a run is classified into (None when it is correct).
FAILURES = (
    "wrong_answer",  # answered, with the wrong answer
    "no_tool_call",  # answered without calling any tool
    "program_errors",  # codeact: every program failed, or none could run
    "turn_limit",  # still working after MAX_TURNS model requests
    "model_error",  # the model could not be reached, or another run-time error
)


@dataclass
class TaskRun:
    """One run of one task in one wiring. `to_dict` gives the benchmark JSON's keys."""

    task: str
    domain: str
    wiring: Wiring
    correct: bool
    wall_s: float
    model_turns: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    fallback_parses: int = 0
    nudges: int = 0
    failure: str | None = None
    answer: str = ""  #: what the checker read from the final reply
    expected: Any = None
    error: str | None = None
    nudge_reasons: list[str] = field(default_factory=list)
    result: AgentResult | None = field(default=None, repr=False, compare=False)
    #: The final reply and the programs, for a run read back from JSON (no `result` then).
    reply: str | None = field(default=None, repr=False)
    programs: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "domain": self.domain,
            "wiring": self.wiring,
            "correct": self.correct,
            "model_turns": self.model_turns,
            "tool_calls": self.tool_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "wall_s": round(self.wall_s, 3),
            "fallback_parses": self.fallback_parses,
            "nudges": self.nudges,
            "failure": self.failure,
            "nudge_reasons": list(self.nudge_reasons),
            "answer": self.answer,
            "expected": repr(self.expected),
            "error": self.error,
            "reply": self.result.text if self.result is not None else self.reply,
            "programs": (
                list(self.result.programs) if self.result is not None else list(self.programs)
            ),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRun:
        """A run as `to_dict` wrote it (`expected` stays the repr it was written as)."""
        wiring = data["wiring"]
        if wiring not in WIRINGS:
            raise ValueError(f"unknown wiring {wiring!r}")
        return cls(
            task=str(data["task"]),
            domain=str(data["domain"]),
            wiring=wiring,
            correct=bool(data["correct"]),
            wall_s=float(data["wall_s"]),
            model_turns=int(data.get("model_turns", 0)),
            tool_calls=int(data.get("tool_calls", 0)),
            input_tokens=int(data.get("input_tokens", 0)),
            output_tokens=int(data.get("output_tokens", 0)),
            fallback_parses=int(data.get("fallback_parses", 0)),
            nudges=int(data.get("nudges", 0)),
            failure=data.get("failure"),
            answer=str(data.get("answer", "")),
            expected=_Repr(str(data.get("expected", ""))),
            error=data.get("error"),
            nudge_reasons=[str(r) for r in data.get("nudge_reasons", [])],
            reply=data.get("reply"),
            programs=[str(p) for p in data.get("programs", [])],
        )


class _Repr(str):
    """An expected answer read back from JSON, where it was written as its repr."""

    def __repr__(self) -> str:
        return str(self)


def build_agent(
    task: Task,
    wiring: Wiring,
    client: ChatClient,
    *,
    max_turns: int = MAX_TURNS,
    backend: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> Agent:
    """The agent for one run of `task` (with a fresh set of the domain's tools)."""
    tools = tools_for(task.domain)
    common: dict[str, Any] = {
        "client": client,
        "instructions": INSTRUCTIONS,
        "max_turns": max_turns,
        "progress": progress,
        "tools_required": True,
    }
    if wiring == "codeact":
        return Agent(codeact=CodeAct(tools=tools, backend=backend), **common)
    if wiring == "direct":
        return Agent(tools=tools, **common)
    raise UserError(f"unknown wiring {wiring!r}; use one of {', '.join(WIRINGS)}")


async def run_task(
    task: Task,
    wiring: Wiring,
    client: ChatClient,
    *,
    max_turns: int = MAX_TURNS,
    backend: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> TaskRun:
    """Run `task` once in `wiring`. Failures of the run are recorded in the `TaskRun`; a
    mistake in how the benchmark is configured (`UserError`) is raised."""
    agent = build_agent(
        task, wiring, client, max_turns=max_turns, backend=backend, progress=progress
    )
    started = time.perf_counter()
    result: AgentResult | None = None
    error: str | None = None
    failure: str | None = None
    try:
        result = await agent.run(task.instruction)
    except UserError:
        raise
    except TurnLimitExceeded as exc:
        result = exc.result if isinstance(exc.result, AgentResult) else None
        error, failure = str(exc), "turn_limit"
    except AgentError as exc:
        result = exc.result if isinstance(exc.result, AgentResult) else None
        error, failure = str(exc), "model_error"
    except CodeActError as exc:  # a ChatError out of Agent.run holds the run so far
        partial = getattr(exc, "result", None)
        result = partial if isinstance(partial, AgentResult) else None
        error, failure = str(exc), "model_error"
    run = TaskRun(
        task=task.name,
        domain=task.domain,
        wiring=wiring,
        correct=False,
        wall_s=time.perf_counter() - started,
        expected=task.expected,
        error=error,
        result=result,
    )
    if result is not None:
        u = result.usage
        run.model_turns, run.tool_calls = u.model_turns, u.tool_calls
        run.input_tokens, run.output_tokens = u.input_tokens, u.output_tokens
        run.fallback_parses, run.nudges = u.fallback_parses, u.nudges
        run.nudge_reasons = list(result.nudge_reasons)
    if failure is None and result is not None:
        run.answer = extract_answer(result.text)
        run.correct = is_correct(result.text, task.expected)
        failure = None if run.correct else _failure_of(result)
    run.failure = failure
    return run


def _failure_of(result: AgentResult) -> str:
    asked = any(m.tool_calls for m in result.messages if m.role == "assistant")
    if not asked:
        return "no_tool_call"
    if not result.executions and not result.tool_calls:
        return "program_errors"  # calls were made, none ran (unreadable, or refused)
    if result.executions and not any(e.ok for e in result.executions):
        return "program_errors"
    return "wrong_answer"


async def run_tasks(
    tasks: Sequence[Task],
    client: ChatClient,
    *,
    wirings: Sequence[Wiring] = WIRINGS,
    runs: int = 1,
    max_turns: int = MAX_TURNS,
    backend: str = "auto",
    on_run: Callable[[TaskRun], None] | None = None,
    on_start: Callable[[Task, Wiring], None] | None = None,
    progress: Callable[[str], None] | None = None,
    done: Sequence[TaskRun] = (),
) -> list[TaskRun]:
    """Every task `runs` times in each wiring, the wirings interleaved per task (so that a
    change in the machine's load touches both alike). `on_run(run)` after each run;
    `progress` gets the agent's line for each model reply and tool result. Runs in `done`
    (read back from an earlier benchmark's JSON) count towards `runs` and are not run again;
    the list returned holds only the new runs."""
    already = Counter((r.task, r.wiring) for r in done)
    records: list[TaskRun] = []
    for task in tasks:
        for n in range(runs):
            for wiring in wirings:
                if n < already[(task.name, wiring)]:
                    continue
                if on_start is not None:
                    on_start(task, wiring)
                record = await run_task(
                    task, wiring, client, max_turns=max_turns, backend=backend, progress=progress
                )
                records.append(record)
                if on_run is not None:
                    on_run(record)
    return records
