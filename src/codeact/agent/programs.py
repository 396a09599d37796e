"""The agent's side of one ``execute_code`` call: check the program, run it, record it.

Before a program runs: a call without readable code is answered with the expected shape; a
program that already ran is not run again (`ALREADY_RAN`); one identical to a program that
failed is not run (`repeated_failure_message`: it would fail the same way); and one that
defines functions the sandbox already has either has those definitions cut out
(`strip_tool_definitions`, the model is told) or, where they cannot be cut cleanly, is not
run (`shadowing_message`); one whose last line stops inside a string is closed there
(`cut_programs`). After it runs, a hint may follow its output: the key a failed
program read from the wrong tool's dict (`key_hints`), or a loop that read an earlier loop's
variable (`loop_hints`). Everything that ran is counted in the run's usage and timings.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from .._display import visible
from .._nesting import loads_within, parse_program
from ..chat.messages import ToolCall, ToolChoice, ToolDefinition
from ..runtime import ExecuteCodeTool, ExecutionResult, Session
from ..runtime.events import ExecutionEvent
from ..tools import SANDBOX_RESERVED_NAMES
from .cut_programs import close_cut_string, closed_note
from .denials import denial_note, denial_of, denied_again_message
from .key_hints import missing_key_hint
from .loop_hints import stale_loop_variable_hint
from .nudges import ALREADY_RAN, already_ran_with_hint, repeated_failure_message
from .program_check import (
    removal_note,
    shadowed_tools,
    shadowing_message,
    strip_tool_definitions,
    unwrap_code_tool_call,
    unwrapped_note,
)
from .result import AgentResult, AgentTimings, AgentUsage

__all__ = ["ProgramCalls", "code_of"]


class ProgramCalls:
    """The programs of one agent run: what ran, what failed, and the last failure."""

    def __init__(
        self,
        result: AgentResult,
        usage: AgentUsage,
        timings: AgentTimings,
        *,
        progress: Callable[[str], None] | None,
        count_nudge: Callable[[str], None],
        on_event: Callable[[str, ExecutionEvent], Any] | None = None,
    ) -> None:
        self._on_event = on_event
        self._result = result
        self._usage = usage
        self._timings = timings
        self._progress = progress
        self._count_nudge = count_nudge
        #: Programs that ran without an error -> the hint their output came with; keyed by
        #: `same_program` (quotes, spacing and comments aside, the same program).
        self._ran_ok: dict[str, str | None] = {}
        self._failed: dict[str, str] = {}  # program (`same_program`) -> its error
        #: Programs a denial stopped (`denial_of`) -> what was denied: a decision, not a
        #: slip to fix, so never a failed program; the same program sent again is not run.
        self._denied: dict[str, str] = {}
        #: "Type: message" of the last program when it failed, or was refused as the repeat of
        #: one that failed (the loop clears it when the model next makes calls).
        self.last_error: str | None = None
        self._failed_in_a_row = 0  # programs that failed (or were refused) since one ran
        #: The hint that came with the last program when it ran but looks wrong (a loop that
        #: reads a finished loop's variable); None when the last program gave none.
        self.last_warning: str | None = None

    def call_due(self) -> bool:
        """Whether the next reply must be a tool call: the last program failed, so its
        answer would be no answer (`codeact.agent.nudges`). At most three replies in a row
        are held to a call; after that the model may answer, as the nudges then let it."""
        return self.last_error is not None and self._failed_in_a_row <= 3

    def tool_choice(self, tools: Sequence[ToolDefinition]) -> ToolChoice | None:
        """``"required"`` for the next request when a call is due, else None."""
        return "required" if tools and self.call_due() else None

    async def run(self, tool: ExecuteCodeTool, call: ToolCall, session: Session | None) -> str:
        """Run the program of `call` with `tool`; the text the model gets back."""
        code = code_of(call)
        if code is None:
            return (
                f'Error: {tool.name} takes one argument, {{"code": "<a Python program>"}}; '
                f"got {call.arguments[:200]!r}"
            )
        key = same_program(code)
        if len(code) > CHECKED_CHARS:
            # Past this, the checks below would each parse and walk it on the event loop
            # (a 1 MB program: 12 s of the host's CPU): it runs as sent, or is refused by
            # its size limit (`Limits.code_bytes`).
            result = await tool.run(
                code, session=session, call_id=call.id, on_event=self._events_of(call.id)
            )
            self._record(tool.name, key, code, result)
            return result.to_model_text()
        if key in self._ran_ok:
            # Small models sometimes send the program that just ran once more instead of
            # answering; running it again would only repeat its output (and its slip, if a
            # hint named one: then the answer is not what it printed).
            hint = self._ran_ok[key]
            return ALREADY_RAN if hint is None else already_ran_with_hint(hint)
        if key in self._denied:  # a person (or a policy) said no: do not ask again
            return denied_again_message(self._denied[key])
        if key in self._failed:  # it would fail the same way: ask for a change
            self._count_nudge("repeated_failed_program")
            self.last_error = self._failed[key]
            self._failed_in_a_row += 1
            return repeated_failure_message(self._failed[key])
        to_run, notes = code, []
        inner = unwrap_code_tool_call(code, tool.name)
        if inner is not None:
            self._count_nudge("code_tool_called_inside")
            self._say(f"  {tool.name}: ran the program its code passed to {tool.name}(...)")
            to_run, notes = inner, [unwrapped_note(tool.name)]
        closed = close_cut_string(to_run)
        if closed is not None:
            to_run, added = closed
            self._count_nudge("cut_string_closed")
            self._say(f"  {tool.name}: closed the string its last line left open ({added})")
            notes.append(closed_note(added, to_run.rstrip().count("\n") + 1))
        written = to_run  # the program as the model wrote it: its lines are the model's
        # The code tool's own name and the sandbox's own functions too: `from tools import
        # execute_code, call_tool_async` in a program is a model's guess at how to reach the
        # tools, and fails on a missing module.
        tool_names = [*tool.codeact.tools.names(), tool.name, *sorted(SANDBOX_RESERVED_NAMES)]
        shadowed = shadowed_tools(to_run, tool_names)
        if shadowed:
            stripped = strip_tool_definitions(to_run, tool_names)
            if stripped is None:
                self._result.refused_programs += 1
                self._say(f"  {tool.name}: not run, it defines {', '.join(shadowed)}")
                return shadowing_message(shadowed)
            self._count_nudge("tool_definitions_removed")
            self._say(f"  {tool.name}: removed its definitions of {', '.join(stripped.removed)}")
            to_run = stripped.code
            notes.append(removal_note(stripped.removed))
        result = await tool.run(
            to_run, session=session, call_id=call.id, on_event=self._events_of(call.id)
        )
        self._record(tool.name, key, to_run, result)
        text = result.to_model_text()
        denied, hint = self._denied.get(key), None
        if denied is not None:  # after the program's own words, as the notes below
            notes.append(denial_note(denied))
        elif result.error is not None:
            hint = missing_key_hint(
                result.error.type,
                result.error.message,
                tool.codeact.tools,
                code=to_run,
                lineno=result.error.lineno,
            )
        else:
            # Read in the program as written (before any definitions were cut): the line
            # numbers are then the model's.
            hint = stale_loop_variable_hint(written) if result.ok else None
            if hint is not None:
                self._say(f"  {tool.name}: a loop reads an earlier loop's variable (hint sent)")
        self.last_warning = hint if result.ok else None
        if result.ok:
            self._ran_ok[key] = hint
        if hint is not None:
            text = f"{text}\n{hint}"
        # The note goes last: a small model that copies the start of a response back copies
        # the program's output (its answer), not our words.
        return "\n".join([text, *notes])

    def _events_of(self, call_id: str) -> Callable[[ExecutionEvent], None] | None:
        """The run's `on_event`: the agent's `on_program_event` given the model's call id."""
        handler = self._on_event
        if handler is None:
            return None

        def on_event(event: ExecutionEvent) -> None:
            handler(call_id, event)

        return on_event

    def _record(self, name: str, key: str, ran: str, result: ExecutionResult) -> None:
        """Count and keep the run of `ran`; `key` (`same_program` of the code as sent) marks
        it as failed for a later resend."""
        denied = denial_of(result)
        if result.ok:
            self._result.program_output = result.stdout
        elif denied is not None:
            self._denied[key] = denied
        elif result.error is not None:
            self._failed[key] = f"{result.error.type}: {result.error.message}"
        if result.ok or denied is not None:
            # A denial is the answer to the program, not a failure of it: the model may
            # answer (saying it was not done) without being told to fix and rerun it.
            self.last_error, self._failed_in_a_row = None, 0
        elif result.error is not None:
            self.last_error = f"{result.error.type}: {result.error.message}"
            self._failed_in_a_row += 1
        self._usage.code_executions += 1
        self._usage.nested_tool_calls += len(result.tool_calls)
        # The execution's own split: tool time without the waits for a person, which are
        # `approval_ms` (nested calls' and the program's own).
        tools_ms = result.timings.get("tools_ms", 0.0)
        approval_ms = result.timings.get("approval_ms", 0.0)
        self._timings.tools += tools_ms / 1000
        self._timings.approval += approval_ms / 1000
        sandbox_ms = max(result.timings.get("total_ms", 0.0) - tools_ms - approval_ms, 0.0)
        self._timings.sandbox += sandbox_ms / 1000
        self._result.executions.append(result)
        self._result.programs.append(ran)
        state = "ok"
        if result.error is not None:
            state = f"failed: {result.error.type}: {' '.join(result.error.message.split())[:100]}"
        elif not result.ok:
            state = "failed"
        self._say(f"  {name}: the program made {len(result.tool_calls)} tool calls, {state}")

    def _say(self, line: str) -> None:
        # Lines carry what the model or its program chose (a tool name, an exception's type
        # and message): control characters are escaped before any terminal sees them.
        if self._progress is not None:
            self._progress(visible(line, newlines=False))


#: Programs longer than this (characters) skip the agent's checks and hints: those are for a
#: small model's slips in short programs, and each parses the program on the event loop.
CHECKED_CHARS = 64_000


def same_program(code: str) -> str:
    """What makes two programs the same: their syntax tree, so that a program sent again
    with other quotes, spacing or comments counts as sent again (the embedded model resent a
    failing program with its double quotes made single); the text when it does not parse or
    is too long to check (`CHECKED_CHARS`). A digest of either, not the text of a tree that
    is several times the program's size."""
    text = code
    if len(code) <= CHECKED_CHARS:
        try:
            text = "tree:" + ast.dump(parse_program(code))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def code_of(call: ToolCall) -> str | None:
    """The ``code`` argument of an ``execute_code`` call; None when it has none."""
    try:
        args = loads_within(call.arguments or "{}")
    except ValueError:  # not JSON, or nested too deep
        return None
    code = args.get("code") if isinstance(args, dict) else None
    return code if isinstance(code, str) and code.strip() else None
