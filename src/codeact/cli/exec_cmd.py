"""`codeact exec`: run one program in a fresh sandbox, with tools from a Python module."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import UserError
from ..runtime import CodeAct, ExecutionResult
from ..runtime.events import OutputChunk
from .approval_options import (
    announce_plan,
    approval_handler_for,
    approval_options,
    write_audit,
)
from .common import handle_errors, limits_from_options, limits_options, load_tools
from .grant_options import grant_options, parse_domain, parse_mount, save_files
from .trace_option import trace_option, tracer_provider_writing

__all__ = ["exec_command"]


@click.command("exec")
@click.argument("program", metavar="PROGRAM.py|-")
@click.option(
    "--tools",
    "tool_specs",
    multiple=True,
    metavar="MODULE:ATTR",
    help="Tools the program may call: MODULE:ATTR (a list of tools), a module, or a .py file "
    "(every @tool in it). Repeat to combine.",
)
@click.option(
    "--backend", default="auto", show_default=True, help="Sandbox backend (see codeact doctor)."
)
@limits_options
@grant_options
@approval_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with everything.")
@trace_option
@handle_errors
def exec_command(
    program: str,
    tool_specs: tuple[str, ...],
    backend: str,
    timeout: float | None,
    memory_mb: int | None,
    mounts: tuple[str, ...],
    workspace: Path | None,
    allow_domains: tuple[str, ...],
    output_dir: Path | None,
    approve: str | None,
    audit_path: Path | None,
    as_json: bool,
    trace_path: Path | None,
) -> None:
    """Run PROGRAM (a file, or - for stdin) in a fresh sandbox.

    Prints what the program prints as it prints it, then the value of its last line. Exit
    status: 0 when the program finished, 1 when it raised or hit a limit, 2 for a usage error.
    """
    code = _read_program(program)
    tools = load_tools(tool_specs)
    limits = limits_from_options(timeout, memory_mb)
    handler = approval_handler_for(approve, program_from_stdin=program == "-")
    provider, close_trace = tracer_provider_writing(trace_path) if trace_path else (None, None)
    with CodeAct(
        tools=list(tools),
        limits=limits,
        backend=backend,
        file_mounts=[parse_mount(spec) for spec in mounts],
        workspace_root=workspace,
        allowed_domains=[parse_domain(spec) for spec in allow_domains],
        approval_handler=handler,
        tracer_provider=provider,
    ) as codeact:
        announce_plan(codeact, code, handler)
        # Plain output is printed as the program writes it; --json prints it all at the end.
        result = codeact.execute_sync(code, on_output=None if as_json else _print_chunk)
    if close_trace is not None:
        close_trace()
    write_audit(result, audit_path)
    if as_json:
        _echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
    else:
        _print_human(result, streamed=True)
    _report_files(result, output_dir)
    sys.exit(0 if result.ok else 1)


def _report_files(result: ExecutionResult, output_dir: Path | None) -> None:
    if result.files and output_dir is not None:
        save_files(result.files, output_dir)
        click.echo(f"codeact: saved {len(result.files)} file(s) to {output_dir}", err=True)
    elif result.files:
        names = ", ".join(f.path for f in result.files)
        click.echo(
            f"codeact: the program wrote {names} under /output; pass --output-dir DIR to save them",
            err=True,
        )
    for note in result.files_skipped:
        click.echo(f"codeact: file not returned: {note}", err=True)


def _read_program(program: str) -> str:
    if program == "-":
        return sys.stdin.read()
    path = Path(program)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"no such program file: {program}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {program}: {exc}") from None


def _print_chunk(chunk: OutputChunk) -> None:
    _echo(chunk.text, nl=False, err=chunk.stream == "stderr")
    (sys.stderr if chunk.stream == "stderr" else sys.stdout).flush()


def _print_human(result: ExecutionResult, *, streamed: bool = False) -> None:
    if result.stdout and not streamed:
        _echo(result.stdout, nl=False)
    if result.stderr and not streamed:
        _echo(result.stderr, nl=False, err=True)
    if result.value_repr is not None:
        _echo(result.value_repr)
    elif result.value is not None:
        _echo(json.dumps(result.value, ensure_ascii=False))
    if result.output_truncated:
        _echo(
            f"codeact: output cut: {result.output_truncated} bytes over the output limit dropped",
            err=True,
        )
    error = result.error
    if error is not None:
        if error.type == "LimitExceeded":
            _echo(f"codeact: stopped: {error.message}", err=True)
        else:
            _echo(error.traceback.rstrip("\n") or f"{error.type}: {error.message}", err=True)


def _echo(text: str, *, nl: bool = True, err: bool = False) -> None:
    """click.echo of text from the program, escaped where the stream cannot encode it (a lone
    surrogate, or any character outside a narrow locale's charset): never a crash, never a
    character silently replaced by '?'."""
    stream = sys.stderr if err else sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    click.echo(text, nl=nl, err=err)
