"""The order-totals benchmark: the same model, tools, prompt and instructions, wired two ways.

* ``codeact``: the five tools are reachable only from code, through one ``execute_code`` tool;
* ``direct``: the five tools are ordinary tool calls, one model turn per batch of calls.

Each run records whether the answer is right (`order_totals.check_answer`), its wall time,
the tokens the API reported, model turns, tool calls and text-fallback parses. A run that
fails (turn limit, a model error, or anything else a run can raise) is a run with
``correct=False`` and its error: it is counted and shown, never dropped, and the runs after
it still run. A run cut short by something other than the agent (the model endpoint failing
mid-run, the sandbox, a bug) is `RunRecord.interrupted`: it records what it spent until then
(the `ChatError`'s partial result) and is left out of the medians (`codeact.bench.report`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ..agent import Agent, AgentResult
from ..chat.messages import ChatClient
from ..errors import AgentError, CodeActError, UserError
from ..runtime import CodeAct
from ..workloads import order_totals

if TYPE_CHECKING:
    from ..sandbox.base import SandboxBackend

__all__ = [
    "INSTRUCTIONS",
    "WIRINGS",
    "RunRecord",
    "Wiring",
    "answer_totals",
    "build_agent",
    "run_once",
    "run_series",
]

Wiring: TypeAlias = Literal["codeact", "direct"]
WIRINGS: tuple[Wiring, ...] = ("codeact", "direct")

#: The instructions both wirings get (CodeAct adds its own tool instructions to them).
INSTRUCTIONS = "Answer precisely. Use the tools for all data and math."

#: Model requests a run may make: enough for the direct wiring's 26-36 tool calls made one
#: per turn, the same for both wirings.
MAX_TURNS = 45


@dataclass
class RunRecord:
    """One run of one wiring. `to_dict` gives exactly the benchmark JSON's keys."""

    wiring: Wiring
    correct: bool
    wall_s: float
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    model_turns: int = 0
    tool_calls: int = 0
    fallback_parses: int = 0
    error: str | None = None
    #: The run was cut short by something other than the agent (its model endpoint or the
    #: sandbox failing, a bug, a lost worker), not ended by it: its counts are what it spent
    #: until then, and the medians leave it out (they are of runs that ended on their own).
    interrupted: bool = False
    code_executions: int = 0  # not in the JSON: for the "one execute_code turn" statistic
    result: AgentResult | None = field(default=None, repr=False, compare=False)
    #: Not in the JSON: the exception when the run could not be done at all (the model
    #: endpoint unreachable or refusing, the sandbox failing), not when the agent ran and
    #: did not finish (`AgentError`: turn limit, invalid output), which `error` also names.
    failure: Exception | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "wiring": self.wiring,
            "correct": self.correct,
            "wall_s": round(self.wall_s, 3),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "model_turns": self.model_turns,
            "tool_calls": self.tool_calls,
            "fallback_parses": self.fallback_parses,
            "error": self.error,
            "interrupted": self.interrupted,
        }


def build_agent(
    wiring: Wiring,
    client: ChatClient,
    *,
    max_turns: int = MAX_TURNS,
    backend: str | SandboxBackend = "auto",
    progress: Callable[[str], None] | None = None,
) -> Agent:
    """The agent for one wiring of the order-totals task."""
    common: dict[str, Any] = {
        "client": client,
        "instructions": INSTRUCTIONS,
        "max_turns": max_turns,
        "progress": progress,
        "tools_required": True,  # every number comes from the tools: without them it is made up
    }
    if wiring == "codeact":
        return Agent(codeact=CodeAct(tools=order_totals.TOOLS, backend=backend), **common)
    if wiring == "direct":
        return Agent(tools=order_totals.TOOLS, **common)
    raise UserError(f"unknown wiring {wiring!r}; use one of {', '.join(WIRINGS)}")


async def run_once(
    wiring: Wiring,
    client: ChatClient,
    *,
    max_turns: int = MAX_TURNS,
    backend: str | SandboxBackend = "auto",
    progress: Callable[[str], None] | None = None,
) -> RunRecord:
    """Run the task once. Every failure of the run becomes the record's `error` (one line); a
    mistake in how the benchmark is configured (`UserError`, e.g. no model) is raised."""
    agent = build_agent(wiring, client, max_turns=max_turns, backend=backend, progress=progress)
    started = time.perf_counter()
    result: AgentResult | None = None
    error: str | None = None
    failure: Exception | None = None
    try:
        result = await agent.run(order_totals.TASK)
    except UserError:
        raise
    except AgentError as exc:
        result = exc.result if isinstance(exc.result, AgentResult) else None
        error = str(exc)
    except CodeActError as exc:  # a ChatError out of Agent.run holds the run so far
        partial = getattr(exc, "result", None)
        result = partial if isinstance(partial, AgentResult) else None
        error, failure = str(exc), exc
    except Exception as exc:  # a bug or a client's own exception: this run's, not the series'
        error = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        failure = exc
    wall = time.perf_counter() - started
    record = RunRecord(
        wiring=wiring,
        correct=error is None and result is not None and order_totals.check_answer(result.text),
        wall_s=wall,
        error=error,
        interrupted=failure is not None,
        result=result,
        failure=failure,
    )
    if result is not None:
        u = result.usage
        record.input_tokens, record.output_tokens = u.input_tokens, u.output_tokens
        record.total_tokens, record.model_turns = u.total_tokens, u.model_turns
        record.tool_calls, record.fallback_parses = u.tool_calls, u.fallback_parses
        record.code_executions = u.code_executions
    return record


async def run_series(
    client: ChatClient,
    *,
    wirings: tuple[Wiring, ...] = WIRINGS,
    runs: int = 3,
    max_turns: int = MAX_TURNS,
    backend: str = "auto",
    on_run: Callable[[int, RunRecord], None] | None = None,
) -> list[RunRecord]:
    """`runs` runs of each wiring, interleaved (codeact, direct, codeact, ...) so that a
    change in the machine's load touches both alike. `on_run(i, record)` after each."""
    records: list[RunRecord] = []
    for _ in range(runs):
        for wiring in wirings:
            record = await run_once(wiring, client, max_turns=max_turns, backend=backend)
            records.append(record)
            if on_run is not None:
                on_run(len(records), record)
    return records


def answer_totals(text: str) -> dict[str, float | None]:
    """Each user's total as the answer states it (the last amount on the first line that
    names the user), None when the answer does not give one."""
    found: dict[str, float | None] = {}
    lines = text.splitlines()
    for name in order_totals.expected_totals():
        found[name] = None
        for line in lines:
            if re.search(rf"\b{re.escape(name)}\b", line):
                amounts = re.findall(r"\d+(?:\.\d+)?", line.replace(",", ""))
                amounts = [a for a in amounts if "." in a] or amounts
                if amounts:
                    found[name] = float(amounts[-1])
                    break
    return found
