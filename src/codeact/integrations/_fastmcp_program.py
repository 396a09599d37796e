"""FastMCP CodeMode's program conventions on codeact's sandbox.

CodeMode tells the model to write ``await call_tool("name", {...})`` and to ``return`` the
answer at the top level, as its default sandbox (Monty) allows. CPython forbids a top-level
``return``, so the program is wrapped in an ``async def`` whose header is one line: the model's
line N becomes line N+1, which `fix_line_numbers` undoes in what comes back. The header also
binds each external function (CodeMode's ``call_tool``) to a host tool, and the ``inputs`` as
parameters. Lines inside multi-line strings are not indented, so their text is unchanged.
"""

from __future__ import annotations

import ast
import io
import json
import keyword
import re
import tokenize
from collections.abc import Mapping
from typing import Any

from .. import ConfigurationError
from .._nesting import parse_program

__all__ = ["PROGRAM_FUNCTION", "fix_line_numbers", "wrap_program"]

PROGRAM_FUNCTION = "__codeact_program__"
_LINE = re.compile(r'File "<code>", line (\d+)(, in __codeact_program__)?')
# The frame of the wrapper's last line, which the model never wrote (with its carets, if any).
_WRAPPER_FRAME = re.compile(
    r'^[ \t]*File "<code>", line \d+, in <module>\n'
    rf"[ \t]*await {PROGRAM_FUNCTION}\(\)\n"
    r"(?:[ \t]*[~^]+\n)?",
    re.MULTILINE,
)


def wrap_program(
    code: str, *, bindings: Mapping[str, str], inputs: Mapping[str, Any] | None
) -> str:
    """`code` as the body of an async function called on the last line (its value is the
    result). `bindings` maps a name the program calls (``call_tool``) to the source of the
    callable bound to it; `inputs` become parameters with their JSON values."""
    params = [f"{name}={source}" for name, source in bindings.items()]
    for name, value in (inputs or {}).items():
        if not name.isidentifier() or keyword.iskeyword(name) or name in bindings:
            raise ConfigurationError(f"input name {name!r} is not a free Python identifier")
        try:
            text = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"input {name!r} has no JSON form: {exc}") from exc
        params.append(f"{name}=__import__('json').loads({text!r})")
    body = _indented(_return_last_expression(code))
    header = f"async def {PROGRAM_FUNCTION}({', '.join(params)}):"
    return f"{header}\n{body}\n    pass\nawait {PROGRAM_FUNCTION}()\n"


def fix_line_numbers(text: str) -> str:
    """Tracebacks point at the model's own lines again (the header took line 1), without
    the wrapper's frame, as the core runner hides its own."""

    def fix(match: re.Match[str]) -> str:
        line = max(int(match.group(1)) - 1, 1)
        where = ", in <module>" if match.group(2) else ""
        return f'File "<code>", line {line}{where}'

    return _LINE.sub(fix, _WRAPPER_FRAME.sub("", text))


def _return_last_expression(code: str) -> str:
    """A last top-level expression is the result too, as Monty's REPL-like runs give it."""
    try:
        tree = parse_program(code)
    except (SyntaxError, ValueError):
        return code  # the sandbox reports it, with the model's line numbers
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return code
    last = tree.body[-1]
    lines = code.splitlines(keepends=True)
    row, col = last.lineno - 1, last.col_offset
    lines[row] = lines[row][:col] + "return " + lines[row][col:]
    return "".join(lines)


def _indented(code: str) -> str:
    keep = _string_interior_lines(code)
    out = []
    for number, line in enumerate(code.splitlines(), start=1):
        out.append(line if number in keep or not line.strip() else "    " + line)
    return "\n".join(out)


def _string_interior_lines(code: str) -> set[int]:
    """Lines that continue a multi-line string: indenting them would change the string."""
    rows: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING or token.type == getattr(
                tokenize, "FSTRING_MIDDLE", -1
            ):
                rows.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return rows
