"""The `codeact` command line. Each command lives in its own module, registered below.

Conventions (as in simonw/llm): user mistakes print one line ``codeact: error: ...`` and exit
2; a failure at run time exits 1; nothing prints a traceback unless ``CODEACT_DEBUG=1``.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from .. import __version__
from .._entry import (
    EXIT_INTERRUPTED,
    TERM_GRACE_S,
    Terminated,
    arm,
    exit_cleanly_on_ending_signals,
    say_interrupted,
    say_terminated,
)
from .params import shown
from .streams import (
    OutputWriteError,
    broken_pipe_exit,
    guard_stdout,
    open_missing_streams,
    output_failed_exit,
    whole_writes,
)

__all__ = ["TERM_GRACE_S", "main"]

# (module, attribute) of every top-level command or group, in the order `--help` lists them.
_COMMANDS: list[tuple[str, str]] = [
    ("codeact.cli.exec_cmd", "exec_command"),
    ("codeact.cli.demo_cmd", "demo_command"),
    ("codeact.cli.serve_mcp_cmd", "serve_mcp_command"),
    ("codeact.cli.bench_cmd", "bench_group"),
    ("codeact.cli.sandbox_cmd", "sandbox_group"),
    ("codeact.cli.doctor_cmd", "doctor_command"),
]


class _LazyGroup(click.Group):
    """Imports a command's module only when that command is used (fast `--help`, no heavy
    imports for commands that are not run)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [_command_name(attr) for _, attr in _COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module_name, attr in _COMMANDS:
            if _command_name(attr) == cmd_name:
                command: click.Command = getattr(importlib.import_module(module_name), attr)
                return command
        return None


#: What a group invoked without a command raises (click 8.2+; 8.1 prints its help, exit 0).
_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = tuple(
    getattr(click.exceptions, name)
    for name in ("NoArgsIsHelpError",)
    if hasattr(click.exceptions, name)
)


class _CodeActGroup(_LazyGroup):
    """Every usage error is one line, ``codeact: error: --timeout: must be ...``, exit 2, in
    place of click's Usage/Try/Error block; a group run without a command (``codeact``,
    ``codeact sandbox``) prints its whole help on stderr, exit 2; Ctrl-C is ``codeact:
    interrupted``, exit 130; SIGTERM (`timeout`, `docker stop`, a supervisor) is ``codeact:
    terminated``, exit 143 (SIGHUP, a closed terminal: 129), after the same clean-up as any
    exit (sandboxes stopped, their host directories removed: the signal's default action
    skipped it)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        arm()
        exit_cleanly_on_ending_signals()
        _debug_logging()
        try:
            _prepare_streams()
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS_IS_HELP as exc:
            # `codeact`, `codeact sandbox`: no command named. Not a one-line error: the
            # group's whole help, as --help prints it, on stderr, exit 2 (click's own default).
            click.echo(exc.format_message(), err=True)
            sys.exit(2)
        except click.UsageError as exc:
            click.echo(f"codeact: error: {usage_message(exc)}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"codeact: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            say_interrupted()
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:  # `codeact ... | head`: the reader went away, stop quietly
            broken_pipe_exit()
        except OutputWriteError as exc:
            output_failed_exit(exc)
        except OSError as exc:  # click's own output (--help) to a full disk
            if exc.errno not in _WRITE_ERRNOS:
                raise
            output_failed_exit(exc)
        except Terminated:
            say_terminated()
            raise
        except SystemExit:
            _flush_stdout()
            raise
        _flush_stdout()
        sys.exit(code if isinstance(code, int) else 0)


#: What a write to a full, failing or closed stdout raises (click's --help, --version).
_WRITE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EBADF")
    if hasattr(errno, name)
)


def _debug_logging() -> None:
    """With ``CODEACT_DEBUG=1``, each tool's exception is printed with its traceback on
    stderr (the logger ``codeact.tools`` at DEBUG), not only as the program saw it."""
    if os.environ.get("CODEACT_DEBUG"):
        import logging

        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("codeact: debug: %(message)s"))
        logger = logging.getLogger("codeact.tools")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def _flush_stdout() -> None:
    """Write what is still buffered now, where a closed pipe can still exit 141 quietly (at
    the interpreter's exit it would be a 'BrokenPipeError ignored' message and status 120)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        broken_pipe_exit()
    except (OSError, OutputWriteError) as exc:  # a full disk: what was buffered is lost
        output_failed_exit(exc)
    except ValueError:
        pass


def usage_message(exc: click.UsageError) -> str:
    """One line: the option it is about, what was wrong, and where to read more."""
    plain = isinstance(exc, click.BadParameter) and not isinstance(exc, click.MissingParameter)
    message = exc.message if plain else exc.format_message()
    message = " ".join(message.split())
    if plain:
        assert isinstance(exc, click.BadParameter)
        param = exc.param
        name = exc.param_hint if isinstance(exc.param_hint, str) else None
        if param is not None and name is None:
            opts = getattr(param, "opts", None) or [param.human_readable_name]
            name = opts[-1] if opts[-1].startswith("--") else opts[0]
        message = _plain_range(message)
        message = f"{name}: {message}" if name else message
    else:
        message = message[:1].lower() + message[1:]
    message = message.rstrip(".")
    ctx = exc.ctx
    if ctx is not None and not isinstance(exc, click.BadParameter):
        message = f"{message} (see {ctx.command_path} --help)"
    return message


_RANGE = re.compile(r"^(?P<got>\S+) is not in the range (?P<range>\S+?)\.?$")


def _plain_range(message: str) -> str:
    """click's IntRange/FloatRange words (``3 is not in the range 5<=x<=100000``) as the
    other flags say it: ``must be at least 5 (got 3)``."""
    match = _RANGE.match(message)
    if match is None:
        return message
    got, bounds = shown(match["got"]), match["range"]
    low, _, high = bounds.partition("<=x<=")
    if high:
        return f"must be from {low} to {high} (got {got})"
    for sign, words in (
        (">=", "at least"),
        ("<=", "at most"),
        (">", "more than"),
        ("<", "less than"),
    ):
        if bounds.startswith(f"x{sign}"):
            return f"must be {words} {bounds[len(sign) + 1 :]} (got {got})"
    return message


def _command_name(attr: str) -> str:
    return attr.rsplit("_", 1)[0].replace("_", "-")


@click.group(cls=_CodeActGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="codeact")
def main() -> None:
    """CodeAct: run model-written Python in a fresh isolated sandbox, with tools on the host."""
    _prepare_streams()
    warnings.formatwarning = _one_line_warning


def _prepare_streams() -> None:
    """Before anything is written (click's own --help and --version too); again when the
    group runs, for whoever calls it in-process (each step is done once)."""
    open_missing_streams()
    whole_writes()
    _printable_streams()
    guard_stdout()


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """A warning as one line on stderr, like the CLI's errors (no file, line or source)."""
    return f"codeact: warning: {message}\n"


def _printable_streams() -> None:
    """Let stdout and stderr print any text a program gave back: a character the stream
    cannot encode (a lone surrogate, or anything outside a narrow locale's charset) is
    written as its escape (``\\udc80``) instead of ending the command with
    UnicodeEncodeError. Inside a JSON string such an escape is still valid JSON."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
