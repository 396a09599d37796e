"""The `codeact` command line. Each command lives in its own module, registered below.

Conventions (as in simonw/llm): user mistakes print one line ``codeact: error: ...`` and exit
2; a failure at run time exits 1; nothing prints a traceback unless ``CODEACT_DEBUG=1``.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__

__all__ = ["main"]

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


def _command_name(attr: str) -> str:
    return attr.rsplit("_", 1)[0].replace("_", "-")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="codeact")
def main() -> None:
    """CodeAct: run model-written Python in a fresh isolated sandbox, with tools on the host."""
    _printable_streams()


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
