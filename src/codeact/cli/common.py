"""What every command shares: error handling, loading tools from `MODULE:ATTR`, limits flags."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import click

from .._display import visible
from .._entry import EXIT_INTERRUPTED, say_interrupted
from ..errors import CodeActError, UserError
from ..policy.limits import Limits
from ..tools import Tool, ToolSet, as_tool
from .params import Number, Size
from .report import cli_error_wording
from .streams import OutputWriteError, broken_pipe_exit, is_broken_pipe, output_failed_exit

__all__ = [
    "fail",
    "handle_errors",
    "limits_from_options",
    "limits_options",
    "load_tools",
    "result_file_options",
    "writable_destination",
]

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, *, code: int = 1) -> None:
    """Print ``codeact: error: message`` and exit with `code`. Control characters are
    escaped: messages carry names a program chose (a file under /output), and an escape
    sequence in one must not reach the terminal (retitle it, clear it, fake a line)."""
    click.echo(f"codeact: error: {visible(message, newlines=False)}", err=True)
    sys.exit(code)


def note(message: str) -> None:
    """Print ``codeact: message`` on stderr, control characters escaped as in `fail`."""
    click.echo(f"codeact: {visible(message, newlines=False)}", err=True)


def handle_errors(fn: F) -> F:
    """Turn codeact's exceptions into one-line messages and exit codes (2: usage, 1: failure)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except UserError as exc:
            if os.environ.get("CODEACT_DEBUG"):
                raise
            fail(cli_error_wording(str(exc)), code=2)
        except CodeActError as exc:
            if os.environ.get("CODEACT_DEBUG"):
                raise
            fail(str(exc), code=1)
        except KeyboardInterrupt:
            say_interrupted()
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError as exc:  # `codeact ... | head`: the reader went away
            if is_broken_pipe(exc):
                broken_pipe_exit()
            _internal_error(exc)
        except OutputWriteError as exc:  # a full disk, stdout closed: one line, exit 1
            output_failed_exit(exc)
        except Exception as exc:  # a bug or an internal failure: one line, not a traceback
            _internal_error(exc)

    return wrapper  # type: ignore[return-value]


def _internal_error(exc: Exception) -> None:
    if os.environ.get("CODEACT_DEBUG"):
        raise exc
    first = (str(exc).strip().splitlines() or [""])[0]
    fail(
        f"internal error: {type(exc).__name__}: {first} "
        "(run with CODEACT_DEBUG=1 for the traceback)",
        code=1,
    )


def writable_destination(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> Path | None:
    """A click callback for a file a command writes when it is done (--json, --chart): a file
    is tried in its directory now, so that a place it could never write is a usage error
    before the run, not results lost after a long one. The directory of a path given must
    exist (a mistyped one is not made); that of the default (bench-results/) is made."""
    if value is None:
        return value
    if value.is_dir():
        raise click.BadParameter(f"{value} is a directory; name a file", ctx, param)
    if value.exists() and not value.is_file():  # a device or FIFO is not replaced by a file
        raise click.BadParameter(
            f"{value} exists and is not a regular file (a device, FIFO or socket); name a file",
            ctx,
            param,
        )
    given = param.name is None or ctx.get_parameter_source(param.name) not in (
        click.core.ParameterSource.DEFAULT,
        click.core.ParameterSource.DEFAULT_MAP,
    )
    if given and not value.parent.is_dir() and not value.parent.exists():
        raise click.BadParameter(
            f"cannot write {value}: its directory {value.parent} does not exist; create it "
            "or choose another path",
            ctx,
            param,
        )
    try:
        value.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=value.parent):
            pass
    except OSError as exc:
        reason = "a part of its path is a file" if isinstance(exc, FileExistsError) else None
        raise click.BadParameter(
            f"cannot write {value} ({reason or exc.strerror or exc}); choose another path",
            ctx,
            param,
        ) from None
    return value


def result_file_options(default_json: Path, what: str) -> Callable[[F], F]:
    """`--json PATH` (default `default_json`; `what` says what goes in it) and `--chart PATH`
    (default: the JSON path with .png), as every benchmark that saves results takes them."""

    def add(fn: F) -> F:
        fn = click.option(
            "--chart",
            "chart_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            callback=writable_destination,
            help="Where to write the PNG chart [default: the JSON path with .png].",
        )(fn)
        fn = click.option(
            "--json",
            "json_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=default_json,
            callback=writable_destination,
            show_default=True,
            help=f"Where to write {what}.",
        )(fn)
        return fn

    return add


def limits_options(fn: F) -> F:
    """--timeout, --memory and --max-output, mapped onto `Limits`."""
    fn = click.option(
        "--max-output",
        "max_output",
        type=Size(low=1, high=1 << 30),
        default=None,
        metavar="SIZE",
        help="Output limit of the program: stdout + stderr beyond it are cut (default 1MiB; "
        "e.g. 10MB).",
    )(fn)
    fn = click.option(
        "--memory",
        "memory_mb",
        type=Number(int, low=32, high=4000, what="a whole number of MiB"),
        default=None,
        metavar="MB",
        help="Memory limit of the program in MiB (default 256).",
    )(fn)
    fn = click.option(
        "--timeout",
        type=Number(float, positive=True, low=0.001, high=86400, what="a number of seconds"),
        default=None,
        metavar="SECONDS",
        help="Wall-time limit of the program (default 30).",
    )(fn)
    return fn


def limits_from_options(
    timeout: float | None, memory_mb: int | None, max_output: int | None = None
) -> Limits:
    changes: dict[str, Any] = {}
    if timeout is not None:
        changes["wall_time"] = timeout
    if memory_mb is not None:
        changes["memory_mb"] = memory_mb
    if max_output is not None:
        changes["output_bytes"] = max_output
    return Limits(**changes)


def load_tools(specs: tuple[str, ...] | list[str]) -> ToolSet:
    """Tools from ``MODULE:ATTR``, ``MODULE``, ``path/to/file.py`` or ``path/to/file.py:ATTR``.

    ATTR may name a list of tools, a single tool or function, or a module; without ATTR every
    `@tool` of the module is used.
    """
    tools = ToolSet()
    for spec in specs:
        tools.add(*_load_one(spec))
    return tools


def _load_one(spec: str) -> list[Tool]:
    target, attr = _split(spec)
    if not target.strip(" :"):
        raise UserError(
            f"--tools {spec!r}: give MODULE:ATTR (a list of tools), a module or a .py file, "
            "e.g. --tools codeact.workloads.order_totals:TOOLS"
        )
    module = _import_target(target, spec)
    obj: Any = module
    for part in attr.split(".") if attr else []:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UserError(f"--tools {spec}: {target} has no attribute {attr!r}") from None
    found = _tools_in(obj, spec)
    if not found:
        raise UserError(
            f"--tools {spec}: found no tools there; decorate functions with @codeact.tool "
            "or name a list of them (MODULE:ATTR)"
        )
    return found


def _split(spec: str) -> tuple[str, str]:
    head, sep, tail = spec.rpartition(":")
    is_attr = tail.replace(".", "").replace("_", "").isalnum() and not tail[:1].isdigit()
    is_drive = len(head) == 1 and head.isalpha()  # "C:\\path" is a drive, not MODULE:ATTR
    if sep and head and is_attr and not is_drive:
        return head, tail
    return spec, ""


def _import_target(target: str, spec: str) -> ModuleType:
    path = Path(target)
    if target.endswith(".py") or os.sep in target or (os.altsep and os.altsep in target):
        if not path.is_file():
            raise UserError(f"--tools {spec}: no such file {target}")
        name = f"codeact_tools_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise UserError(f"--tools {spec}: cannot import {target}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            module_spec.loader.exec_module(module)
        except CodeActError:
            raise
        except Exception as exc:
            raise UserError(f"--tools {spec}: {import_failure(exc, target)}") from exc
        return module
    cwd = str(Path.cwd())
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target)
    except CodeActError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and target.split(".")[0] == exc.name.split(".")[0]:
            raise UserError(f"--tools {spec}: cannot import module {target!r}: {exc}") from exc
        raise UserError(f"--tools {spec}: {import_failure(exc, target)}") from exc
    except Exception as exc:
        raise UserError(f"--tools {spec}: {import_failure(exc, target)}") from exc


def import_failure(exc: BaseException, target: str) -> str:
    """``importing tools.py failed at tools.py:3: RuntimeError: config missing``: where the
    import failed (the innermost frame of the user's own files) and the exception's last line."""
    last = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    line = last[-1] if last else type(exc).__name__
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{_shown(exc.filename)}:{exc.lineno}"
        line = f"SyntaxError: {exc.msg}"
    else:
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if not f.filename.startswith("<") and "importlib" not in f.filename
        ]
        # The user's own files first: a library's frame says less about what to fix.
        prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
        own = [f for f in frames if not f.filename.startswith(prefixes)]
        frames = own or frames
        if frames:
            where = f"{_shown(frames[-1].filename)}:{frames[-1].lineno}"
    return f"importing {target} failed" + (f" at {where}" if where else "") + f": {line}"


def _shown(filename: str) -> str:
    try:
        return os.path.relpath(filename)
    except ValueError:
        return filename


def _tools_in(obj: Any, spec: str) -> list[Tool]:
    if isinstance(obj, Tool):
        return [obj]
    if isinstance(obj, ModuleType):
        return [value for value in vars(obj).values() if isinstance(value, Tool)]
    if isinstance(obj, ToolSet):
        return list(obj)
    if isinstance(obj, (list, tuple)):
        return [as_tool(item) for item in obj]
    if callable(obj):
        return [as_tool(obj)]
    raise UserError(f"--tools {spec}: expected tools, a list of tools or a module, got {obj!r}")
