"""How `codeact exec` shows a result: the program's output as it was, then one line per
thing the user should know (a limit, a cut, an exit status), each saying how to change it.

Which limits stop the program and which cut (docs/limits.md): ``wall_time``, ``memory``,
``tool_calls``, ``tool_timeout``, ``network`` and ``output_files`` stop it; ``output`` cuts
what it prints beyond the limit and lets it run to the end.
"""

from __future__ import annotations

import json
import re

import click

from ..errors import ExecutionInterrupted
from ..runtime import CodeAct, ExecutionResult

__all__ = ["cli_wording", "print_result", "raise_hint", "run_interruptible"]

#: How to raise each limit from the command line (the others are set in Python).
_RAISE = {
    "wall_time": "raise it with --timeout SECONDS",
    "memory": "raise it with --memory MB",
    "output": "raise it with --max-output SIZE (e.g. 10MB)",
    "tool_calls": "it is Limits(tool_calls=...) in Python",
    "tool_timeout": "it is Limits(tool_timeout=...) or @tool(timeout=...) in Python",
    "output_files": "it is OutputLimits(...) in Python",
    "network": "it is NetworkLimits(...) in Python",
}

_DOMAIN_LIST = re.compile(r"allowed_domains=\[('([^'\]]*)'|[^\]]*)\]")


def raise_hint(limit: str) -> str:
    return _RAISE.get(limit, "")


def cli_wording(text: str) -> str:
    """Messages made for Python name ``allowed_domains=[...]``; on the command line the
    setting is ``--allow-domain``."""

    def flag(match: re.Match[str]) -> str:
        host = match.group(2)
        return f"--allow-domain {host}" if host else "--allow-domain HOST"

    return _DOMAIN_LIST.sub(flag, text).replace("allowed_domains", "--allow-domain")


def run_interruptible(codeact: CodeAct, code: str) -> tuple[ExecutionResult, bool]:
    """Run `code`; on Ctrl-C the program is stopped and its result (with what it printed)
    comes back with True."""
    try:
        return codeact.execute_sync(code), False
    except ExecutionInterrupted as exc:
        result: ExecutionResult = exc.result
        return result, True


def print_result(result: ExecutionResult) -> None:
    if result.stdout:
        click.echo(result.stdout, nl=False)
    if result.stderr:
        click.echo(cli_wording(result.stderr), nl=False, err=True)
    if result.value_repr is not None:
        click.echo(result.value_repr)
    elif result.value is not None:
        click.echo(json.dumps(result.value, ensure_ascii=False))
    if result.output_truncated:
        click.echo(
            f"codeact: output cut: {result.output_truncated:,} bytes past the output limit were "
            f"dropped; {raise_hint('output')}",
            err=True,
        )
    error = result.error
    if error is None:
        return
    if error.type == "KeyboardInterrupt" and not error.traceback:
        return  # the caller says "codeact: interrupted"
    if error.type == "LimitExceeded":
        hint = raise_hint(error.limit or "")
        click.echo(f"codeact: stopped: {error.message}" + (f"; {hint}" if hint else ""), err=True)
    elif error.type == "SystemExit" and not error.traceback:
        click.echo(f"codeact: {error.message}", err=True)
    else:
        text = error.traceback.rstrip("\n") or f"{error.type}: {error.message}"
        click.echo(cli_wording(text), err=True)
        if error.limit == "memory":
            why = error.message.rpartition("(")[2].rstrip(")").replace("; limit", " (limit")
            click.echo(f"codeact: stopped: {why}); {raise_hint('memory')}", err=True)
