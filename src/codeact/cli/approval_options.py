"""`--approve ask|all|none` and `--audit FILE`: approvals and the audit log on the command line.

ask: each call of a gated tool (``approval_mode="always_require"``) is shown on the terminal
with its arguments and waits for y/n; before the program runs, the calls a static scan finds
are listed. all: every gated call is approved. none: every gated call is denied (the program
gets ``ToolDenied`` and goes on). Without the flag: ask when there is a terminal to ask on,
none otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from ..calls.approval_handlers import ApproveAll, DenyAll, InteractiveApprover
from ..calls.approvals import ApprovalHandler
from ..calls.audit import check_audit_path
from ..errors import UserError
from ..runtime import CodeAct, ExecutionResult
from .host_files import cannot_write, open_for_append
from .live_output import GatedApprover, LiveOutput

__all__ = [
    "announce_plan",
    "approval_handler_for",
    "approval_options",
    "ready_audit",
    "terminal_approver",
    "write_audit",
]

F = TypeVar("F", bound=Callable[..., Any])


def approval_options(fn: F) -> F:
    """Adds --approve and --audit to a command."""
    fn = click.option(
        "--audit",
        "audit_path",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        metavar="FILE",
        help="Append every tool call (tool, arguments, decision, outcome) to FILE as JSON lines.",
    )(fn)
    fn = click.option(
        "--approve",
        type=click.Choice(["ask", "all", "none"]),
        default=None,
        help="Calls of tools that need approval: ask on the terminal (default when there is "
        "one), approve all, or deny all (none).",
    )(fn)
    return fn


def approval_handler_for(
    approve: str | None, *, program_from_stdin: bool, output_gate: LiveOutput | None = None
) -> ApprovalHandler:
    """The handler for ``--approve``; `program_from_stdin` when the program is read from stdin.
    With `output_gate` (`codeact exec`), the program's live output waits while a question is
    open, and the question starts on a fresh line."""
    if approve == "all":
        return ApproveAll(reason="approved by --approve all", name="cli --approve all")
    if approve == "none":
        return DenyAll(reason="denied by --approve none", name="cli --approve none")
    answers = _answers(explicit=approve == "ask", program_from_stdin=program_from_stdin)
    if answers is None:
        if approve == "ask":
            raise UserError(
                "--approve ask needs a terminal to ask on, and the program is read from stdin; "
                "pass the program as a file, or use --approve all|none"
            )
        return DenyAll(
            reason="there is no terminal to ask for approval (run with --approve all to allow it)",
            name="cli (no terminal)",
        )
    if output_gate is not None:
        return GatedApprover(
            output_gate=output_gate, input=answers, output=sys.stderr, name="cli --approve ask"
        )
    return InteractiveApprover(input=answers, output=sys.stderr, name="cli --approve ask")


def terminal_approver(*, name: str) -> InteractiveApprover | None:
    """An approver that asks on the controlling terminal (``/dev/tty``), for a command whose
    stdin and stdout are taken (by a program, or by a protocol); None when there is none."""
    # Both stay open as long as the approver: it asks for the whole life of the command.
    try:
        answers = Path("/dev/tty").open(encoding="utf-8")  # noqa: SIM115
    except OSError:
        return None
    try:
        questions = Path("/dev/tty").open("w", encoding="utf-8")  # noqa: SIM115
    except OSError:
        answers.close()
        return None
    return InteractiveApprover(input=answers, output=questions, name=name)


def _answers(*, explicit: bool, program_from_stdin: bool) -> IO[str] | None:
    """Where the answers come from: stdin (a terminal, or any stream if asked for explicitly),
    or the terminal itself when stdin carries the program."""
    if not program_from_stdin:
        return sys.stdin if explicit or sys.stdin.isatty() else None
    try:
        return Path("/dev/tty").open(encoding="utf-8")
    except OSError:
        return None


def announce_plan(codeact: CodeAct, code: str, handler: ApprovalHandler) -> None:
    """Before the run: list the gated calls the scan finds, so a person knows what will be asked."""
    plan = codeact.scan(code)
    if not plan.gated and not (plan.dynamic and _has_gated(codeact)):
        return
    click.echo(
        "codeact: this program may call tools that need approval:\n"
        + "\n".join("  " + line for line in plan.describe(gated_only=True).splitlines()),
        err=True,
    )
    if isinstance(handler, InteractiveApprover):
        click.echo("codeact: you will be asked at each call", err=True)


def _has_gated(codeact: CodeAct) -> bool:
    return any(t.approval_mode == "always_require" for t in codeact.get_tools())


def ready_audit(path: Path | None) -> None:
    """Check --audit FILE before the program runs (its calls must not go unrecorded)."""
    if path is not None:
        check_audit_path(path, name="--audit")  # a ConfigurationError: a usage error, exit 2


def write_audit(result: ExecutionResult, path: Path | None) -> None:
    if path is None:
        return
    try:
        with open_for_append(path) as out:  # `path` from host_files.pin: no link followed
            result.write_audit(out)
    except OSError as exc:
        raise UserError(cannot_write("--audit", path, exc)) from None
