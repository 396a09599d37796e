"""`codeact exec`: run one program in a fresh sandbox, with tools from a Python module."""

from __future__ import annotations

import codecs
import contextlib
import importlib.util
import json
import sys
from pathlib import Path

import click

from .._display import shown_name
from .._entry import EXIT_INTERRUPTED, say_interrupted
from ..errors import CodeActError, SessionStateError, UserError
from ..policy.network import hint_cli_flags
from ..runtime import CodeAct, ExecutionResult
from .approval_options import (
    announce_plan,
    approval_handler_for,
    approval_options,
    ready_audit,
    write_audit,
)
from .common import handle_errors, limits_from_options, limits_options, load_tools, note
from .grant_options import (
    grant_options,
    parse_domain,
    parse_mount,
    ready_output_dir,
    renamed_note,
    save_files,
)
from .host_files import pin
from .live_output import LiveOutput
from .packages_cmd import check_package_options, package_options
from .progress import show_progress
from .report import ChunkPrinter, echo, print_result, run_interruptible
from .session_file import (
    cli_key,
    hold_session_file,
    read_state,
    refused_state,
    report_session,
    write_state,
)
from .streams import StdoutWatch, broken_pipe_exit, output_failed_exit
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
@package_options
@approval_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with everything.")
@trace_option
@click.option(
    "--session",
    "session_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Keep the program's variables, functions and imports in FILE for the next run with "
    "the same FILE (made on first use; a failed run leaves it as it was; a second run with "
    "FILE waits for the first to finish).",
)
@handle_errors
def exec_command(
    program: str,
    tool_specs: tuple[str, ...],
    backend: str,
    timeout: float | None,
    memory_mb: int | None,
    max_output: int | None,
    mounts: tuple[str, ...],
    workspace: Path | None,
    allow_domains: tuple[str, ...],
    output_dir: Path | None,
    packages: tuple[str, ...],
    wheelhouse: Path | None,
    approve: str | None,
    audit_path: Path | None,
    as_json: bool,
    trace_path: Path | None,
    session_path: Path | None,
) -> None:
    """Run PROGRAM (a file, or - for stdin) in a fresh sandbox.

    Prints what the program prints as it prints it, then the value of its last line. Exit
    status: 0 when the program finished, 1 when it raised, exited with a non-zero status, hit
    a limit or had its output cut, 2 for a usage error, 130 when interrupted (Ctrl-C), 141
    when the reader of its output went away (`| head`: the program is stopped there; 1 when
    the output cannot be written otherwise, as on a full disk), 143
    when terminated (SIGTERM; 129 for SIGHUP). With --session, a run that finished but whose
    variables could not be kept (over the limit, FILE not writable) exits 1.
    """
    code = _read_program(program)
    hint_cli_flags()  # a denied request's hint names --allow-domain, not allowed_domains=[...]
    tools = load_tools(tool_specs)
    check_package_options(packages, wheelhouse)
    limits = limits_from_options(timeout, memory_mb, max_output)
    # Live output waits while an approval question is open (live_output).
    live = LiveOutput()
    handler = approval_handler_for(approve, program_from_stdin=program == "-", output_gate=live)
    # Files written on the host after programs that may change read-write mounts ran: each
    # path resolved now, no link inside such a mount followed (host_files).
    file_mounts = [parse_mount(spec) for spec in mounts]
    if output_dir is not None:
        output_dir = ready_output_dir(pin(output_dir, "--output-dir", file_mounts))
    if audit_path is not None:
        audit_path = pin(audit_path, "--audit", file_mounts, inside_ok=False)
    ready_audit(audit_path)
    if trace_path is not None:
        trace_path = pin(trace_path, "--trace", file_mounts)
    provider, close_trace = tracer_provider_writing(trace_path) if trace_path else (None, None)
    with contextlib.ExitStack() as held:
        # --session FILE is held (locked) from reading its state to writing it back.
        target = (
            held.enter_context(hold_session_file(session_path, file_mounts))
            if session_path
            else None
        )
        new_state: bytes | None = None
        with CodeAct(
            tools=list(tools),
            limits=limits,
            backend=backend,
            file_mounts=file_mounts,
            workspace_root=workspace,
            allowed_domains=[parse_domain(spec) for spec in allow_domains],
            approval_handler=handler,
            tracer_provider=provider,
            packages=packages,
            packages_wheelhouse=wheelhouse,
        ) as codeact:
            announce_plan(codeact, code, handler)
            with show_progress():
                codeact.prepare_sync()  # before the program: no limit counts while this runs
            # Plain output is printed as the program writes it; --json prints it all at the
            # end. A closed pipe (`| head`) stops the program, as SIGPIPE stops a Unix command;
            # so does output that cannot be written (a full disk): exit 1 then.
            printer = ChunkPrinter()
            watch = StdoutWatch(printer, codeact.interrupt)
            live.write_to(watch)
            on_output = None if as_json else live
            if target is None:
                result, interrupted = run_interruptible(codeact, code, on_output=on_output)
            else:
                state = read_state(target, limits.state_bytes)
                try:
                    opened = codeact.session(state=state, key=cli_key())
                except SessionStateError as exc:
                    raise refused_state(session_path or target, exc) from None
                with opened as session:
                    result, interrupted = run_interruptible(session, code, on_output=on_output)
                    if state is None or (result.session is not None and result.session.kept):
                        new_state = session.state
        for chunk in printer.finish():  # a carriage return that ended the output
            watch(chunk)
        if close_trace is not None:
            close_trace()
        write_audit(result, audit_path)
        if watch.error is not None:  # its output could not be written: it was stopped
            if target is not None and new_state is not None:
                write_state(target, new_state, target)
            if watch.broken:
                broken_pipe_exit()
            output_failed_exit(watch.error)
        if as_json:
            echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str, allow_nan=False))
        else:
            print_result(result, streamed=True)
        # The result and the files come first: a session file that cannot be written (a
        # full disk, its folder removed during the run) loses this run's variables only;
        # files that cannot be saved (exit 1, said after) do not lose the variables.
        saving: CodeActError | None = None
        try:
            _report_files(result, output_dir)
        except CodeActError as exc:
            saving = exc
        kept = True
        if target is not None and session_path is not None:
            failed = write_state(target, new_state, session_path) if new_state else None
            if failed is not None:
                click.echo(f"codeact: error: {failed}", err=True)
                kept = False
            else:
                kept = report_session(result, session_path)
        if saving is not None:
            raise saving
    if interrupted:
        say_interrupted()
        sys.exit(EXIT_INTERRUPTED)
    # A run that finished but whose variables the session could not keep (over the limit,
    # not written) exits 1: the next run would not find them.
    sys.exit(0 if result.ok and not result.output_truncated and kept else 1)


def _report_files(result: ExecutionResult, output_dir: Path | None) -> None:
    if result.files and output_dir is not None:
        saved = save_files(result.files, output_dir)
        renamed = renamed_note(saved, output_dir)
        note(f"saved {len(saved)} file(s) to {output_dir}{renamed}")
    elif result.files:
        names = ", ".join(f.shown_path for f in result.files)
        note(f"the program wrote {names} under /output; pass --output-dir DIR to save them")
    for skipped in result.files_skipped:
        note(f"file not returned: {shown_name(skipped)}")


#: The largest program `codeact exec` reads (bytes). Far past any program a person or a model
#: writes; the sandbox's default 256 MiB of memory does not compile one of 8 MB.
MAX_PROGRAM_BYTES = 16 * 2**20


def _read_program(program: str) -> str:
    """The program's text, decoded as Python decodes a source file: UTF-8, a UTF-8 byte order
    mark (as Windows editors write) dropped, or the encoding its coding cookie names; and
    UTF-16 with its byte order mark (what Windows PowerShell's `>` writes)."""
    if program == "-":
        if sys.stdin.isatty():  # a person typing: say what ends the program
            end = "Ctrl-Z, Enter" if sys.platform == "win32" else "Ctrl-D on a line of its own"
            click.echo(f"codeact: type the program, then {end}", err=True)
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream without bytes (tests, embedding): already text
            return sys.stdin.read(MAX_PROGRAM_BYTES + 1)
        data: bytes = stream.read(MAX_PROGRAM_BYTES + 1)
        where = "the program on stdin"
    else:
        try:
            with Path(program).open("rb") as f:
                data = f.read(MAX_PROGRAM_BYTES + 1)
        except FileNotFoundError:
            raise UserError(f"no such program file: {program}") from None
        except OSError as exc:
            raise UserError(f"cannot read {program}: {exc.strerror or exc}") from None
        where = program
    if len(data) > MAX_PROGRAM_BYTES:  # /dev/zero, a log file: read on, it would fill memory
        raise UserError(
            f"{where} is larger than {MAX_PROGRAM_BYTES // 2**20} MiB, too large for a program; "
            "give the program data through --mount or --workspace instead"
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # PowerShell's `>`
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return importlib.util.decode_source(data)
    except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
        detail = str(exc)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            detail = f"byte 0x{data[bad.start]:02x} at position {bad.start}"
        raise UserError(
            f"cannot read {where}: it is not UTF-8 ({detail}); save it as UTF-8, or name its "
            "encoding in a first-line comment such as # -*- coding: latin-1 -*-"
        ) from None
