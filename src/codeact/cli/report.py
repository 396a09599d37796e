"""How `codeact exec` shows a result: the program's output as it was, then one line per
thing the user should know (a limit, a cut, an exit status), each saying how to change it.

Which limits stop the program and which cut (docs/limits.md): ``wall_time``, ``memory``,
``tool_calls``, ``tool_timeout``, ``network`` and ``output_files`` stop it; ``output`` cuts
what it prints beyond the limit and lets it run to the end.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any, Literal

import click

from ..errors import ExecutionInterrupted
from ..runtime import CodeAct, ExecutionResult, Session
from ..runtime.events import OutputChunk
from .live_output import is_terminal, shown_text
from .streams import OutputWriteError

__all__ = [
    "ChunkPrinter",
    "cli_wording",
    "echo",
    "print_chunk",
    "print_result",
    "raise_hint",
    "run_interruptible",
]

#: How to raise each limit from the command line (the others are set in Python).
_RAISE = {
    "wall_time": "raise it with --timeout SECONDS",
    "memory": "raise it with --memory MB",
    "output": "raise it with --max-output SIZE (e.g. 10MB)",
    "tool_calls": "it is Limits(tool_calls=...) in Python",
    "tool_timeout": "it is Limits(tool_timeout=...) or @tool(timeout=...) in Python",
    "output_files": "it is OutputLimits(...) in Python",
    "network": "it is NetworkLimits(...) in Python",
    "approvals": "it is Limits(approval_denials=..., approval_wait=...) in Python",
    "code": "it is Limits(code_bytes=...) in Python",
    "open_files": "it is fixed: a run may hold 256 files open at once",
}

_DOMAIN_LIST = re.compile(r"allowed_domains=\[('([^']*)'|\('[^']*', '[A-Z]+'\)|[^\]]*)\]")
_DOMAIN_PAIR = re.compile(r"\('([^']*)', '([A-Z]+)'\)")


def raise_hint(limit: str) -> str:
    return _RAISE.get(limit, "")


_PYTHON_LIMIT = re.compile(r"Limits\.(?:wall_time=(\S+?s)\b|memory_mb=(\d+))")


def _flag_limits(text: str) -> str:
    """A stop's ``Limits.wall_time=10s`` and ``Limits.memory_mb=256`` (the fields a Python
    caller raises) as ``wall_time=10s`` and ``limit 256 MiB``: the hint gives the flag."""

    def plain(match: re.Match[str]) -> str:
        wall, memory = match.groups()
        return f"wall_time={wall}" if wall else f"limit {memory} MiB"

    return _PYTHON_LIMIT.sub(plain, text)


def cli_wording(text: str) -> str:
    """Messages made for Python name ``allowed_domains=[...]``; on the command line the
    setting is ``--allow-domain``."""

    def flag(match: re.Match[str]) -> str:
        host = match.group(2)
        pair = _DOMAIN_PAIR.fullmatch(match.group(1))
        if pair is not None:  # ('http://127.0.0.1:8080', 'POST'): the flag's HOST:METHOD form
            return f"--allow-domain {pair.group(1)}:{pair.group(2)}"
        return f"--allow-domain {host}" if host else "--allow-domain HOST"

    return _DOMAIN_LIST.sub(flag, text).replace("allowed_domains", "--allow-domain")


_MISSING_MODULE = re.compile(r"^No module named '([\w]+)[\w.]*' in the sandbox[.;]")
_LIMIT_FLAGS = {"wall_time": "--timeout", "memory_mb": "--memory", "output_bytes": "--max-output"}
_MOUNT_CALL = re.compile(r"Mount\('([^']*)', '([^']*)'(?:, mode='(r[ow])')?\)")


def cli_error_wording(text: str) -> str:
    """A library error in the command line's words: ``Mount('/d', '/data')`` is
    ``--mount /d:/data``, ``workspace_root`` is ``--workspace`` (and see `cli_wording`)."""

    def mount(match: re.Match[str]) -> str:
        mode = ":rw" if match.group(3) == "rw" else ""
        return f"--mount {match.group(1)}:{match.group(2)}{mode}"

    text = _MOUNT_CALL.sub(mount, text)
    text = re.sub(r"\bworkspace_root\b", "--workspace", text)
    for name, flag in _LIMIT_FLAGS.items():
        text = text.replace(f"Limits.{name}", flag)
    return cli_wording(text)


def run_interruptible(
    codeact: CodeAct | Session,
    code: str,
    *,
    on_output: Callable[[OutputChunk], Any] | None = None,
) -> tuple[ExecutionResult, bool]:
    """Run `code`; on Ctrl-C the program is stopped and its result (with what it printed)
    comes back with True."""
    try:
        return codeact.execute_sync(code, on_output=on_output), False
    except ExecutionInterrupted as exc:
        result: ExecutionResult = exc.result
        return result, True


def echo(text: str, *, nl: bool = True, err: bool = False, exact: bool = False) -> None:
    """click.echo of text from the program, escaped where the stream cannot encode it (a lone
    surrogate, or any character outside a narrow locale's charset): never a crash, never a
    character silently replaced by '?'. `exact`: the program's own output (what it printed,
    its value), written as it is: click would strip its colour codes when the stream is not
    a terminal and keep every other escape, so `codeact exec p.py > out` would hold neither
    what the program printed nor a safe version of it."""
    stream = sys.stderr if err else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    try:
        click.echo(text, nl=nl, err=err, color=True if exact else None)
    except BrokenPipeError:
        raise
    except OSError as exc:  # a full disk, an I/O error, stdout closed at start
        raise OutputWriteError(exc.strerror or str(exc)) from exc


def print_chunk(chunk: OutputChunk) -> None:
    """What the program writes, as it writes it (stderr in the command line's wording)."""
    err = chunk.stream == "stderr"
    echo(
        _shown(cli_wording(chunk.text) if err else chunk.text, err=err),
        nl=False,
        err=err,
        exact=True,
    )
    (sys.stderr if err else sys.stdout).flush()


class ChunkPrinter:
    """`print_chunk` for one run. On a terminal, a carriage return that ends a chunk waits for
    the next chunk of its stream: a line end written as two chunks ("\\r", then "\\n") is a
    line end, not an escaped "\\r" and a newline. `finish` prints what still waits."""

    def __init__(self) -> None:
        self._held: set[Literal["stdout", "stderr"]] = set()  # last chunk ended with "\r"
        self._finished = False

    def __call__(self, chunk: OutputChunk) -> None:
        text = chunk.text
        if chunk.stream in self._held:
            self._held.discard(chunk.stream)
            text = "\r" + text
        terminal = sys.stderr if chunk.stream == "stderr" else sys.stdout
        if text.endswith("\r") and not self._finished and is_terminal(terminal):
            self._held.add(chunk.stream)
            text = text[:-1]
        if text:
            print_chunk(OutputChunk(chunk.stream, text))

    def finish(self) -> list[OutputChunk]:
        """What still waits, as chunks to print (through the same callback) after the run."""
        self._finished = True
        return [OutputChunk(stream, "") for stream in sorted(self._held)]


def _shown(text: str, *, err: bool = False) -> str:
    return shown_text(text, sys.stderr if err else sys.stdout)


def _cut_note(result: ExecutionResult) -> str:
    """What the output limit cut, of the printed output and of the value, in one phrase."""
    printed, value = result.output_truncated - result.value_truncated, result.value_truncated
    if printed > 0 and value:
        return (
            f"output cut: {printed:,} bytes of what the program printed and {value:,} bytes of "
            "its last line's value, past the output limit, were dropped"
        )
    if value:
        return (
            f"value cut: {value:,} bytes of the last line's value past the output limit "
            "were dropped"
        )
    if printed > 0:
        return f"output cut: {printed:,} bytes past the output limit were dropped"
    return ""


def print_result(result: ExecutionResult, *, streamed: bool = False) -> None:
    """The result for a person; `streamed`: the output was already printed as it came.
    What the program controls (its output, its value, its traceback) is shown through
    `shown_text`: exact on a pipe or a file, its controls escaped on a terminal."""
    if result.stdout and not streamed:
        echo(_shown(result.stdout), nl=False, exact=True)
    if result.stderr and not streamed:
        echo(_shown(cli_wording(result.stderr), err=True), nl=False, err=True, exact=True)
    if result.has_value and result.stdout and not result.stdout.endswith("\n"):
        echo("")  # the value on a line of its own, not glued to output without a newline
    if result.value_repr is not None:
        echo(_shown(result.value_repr), exact=True)
    elif result.value is not None:
        echo(_shown(json.dumps(result.value, ensure_ascii=False)), exact=True)
    cut_note = _cut_note(result)
    if cut_note:
        click.echo(f"codeact: {cut_note}; {raise_hint('output')}", err=True)
    error = result.error
    if error is None:
        return
    if error.type == "KeyboardInterrupt" and not error.traceback:
        return  # the caller says "codeact: interrupted"
    if error.type == "LimitExceeded":
        hint = raise_hint(error.limit or "")
        message = _flag_limits(error.message)
        click.echo(f"codeact: stopped: {message}" + (f"; {hint}" if hint else ""), err=True)
    elif error.type == "SystemExit" and not error.traceback:
        click.echo(f"codeact: {error.message}", err=True)
    else:
        text = error.traceback.rstrip("\n") or f"{error.type}: {error.message}"
        echo(_shown(cli_wording(text), err=True), err=True)
        missing = (
            _MISSING_MODULE.search(error.message) if error.type == "ModuleNotFoundError" else None
        )
        if missing is not None and missing[1] not in sys.stdlib_module_names:
            # The program's message is for the model; this line is for the person at the CLI.
            click.echo(
                f"codeact: to let programs import {missing[1]!r}, grant the package that provides "
                "it: --package NAME (wasm takes pure-Python packages; --backend jail native "
                "ones too)",
                err=True,
            )
        if error.limit == "memory":
            why = _flag_limits(error.message).rpartition("(")[2].rstrip(")")
            why = why.replace("; limit", " (limit")
            click.echo(f"codeact: stopped: {why}); {raise_hint('memory')}", err=True)
