"""A hint for a program that read a key from the wrong tool's result.

The sandbox already says which keys a tool's dict has when a program reads one it lacks
(``KeyError: "'region' (this dict from a tool has the keys: 'product', 'qty', 'unit_price')"``).
A small model often still cannot tell where the key lives, and sends the same program again.
The tools' typed return shapes know: ``'region' is a key of User, which list_users()
returns``. That line is added to what the model is told about the failure. When the program
itself holds such a dict where it failed (``for user in list_users():`` around the failing
line), the line names it, as a small model can copy: ``here that is `user` (line 2: `for
user in list_users():`), so `user['region']```.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from .._nesting import parse_program
from ..tools import Tool
from ..tools.schema import definition_keys, render_type

__all__ = ["HINT_MARKER", "missing_key_hint"]

#: How the hint line begins in the response (after the program's own error).
HINT_MARKER = "[hint]"

_MISSING = re.compile(r"""^['"](?P<key>[^'"]{1,100})['"] \(this dict from a tool has the keys""")


def missing_key_hint(
    error_type: str,
    message: str,
    tools: Iterable[Tool],
    *,
    code: str | None = None,
    lineno: int | None = None,
) -> str | None:
    """The hint for a KeyError on a tool's dict, naming the tools whose return shapes have
    that key; None when it is not such an error or no tool returns the key. With the
    program's `code` and the failing `lineno`, a loop variable that holds one of those
    tools' items at that line is named too."""
    if error_type != "KeyError":
        return None
    found = _MISSING.match(message.strip().strip('"'))
    if found is None:
        return None
    key = found.group("key")
    owners: list[str] = []
    owner_tools: list[str] = []
    for tool in tools:
        returned: dict[str, str] = {}  # the structured types of what the tool returns
        render_type(tool.return_annotation, returned)
        having = [name for name, text in returned.items() if key in definition_keys(text)]
        owners += [f"{name}, which {tool.name}() returns" for name in having]
        owner_tools += [tool.name] if having else []
    if not owners:
        return None
    hint = f"{HINT_MARKER} '{key}' is a key of {'; and of '.join(owners)}"
    held = _holder(code, lineno, owner_tools) if code and lineno else None
    if held is not None:
        variable, loop_line, loop_text = held
        return (
            f"{hint}: here that is `{variable}` (line {loop_line}: `{loop_text}`), so read "
            f"`{variable}[{key!r}]`, then run the fixed program."
        )
    return (
        f"{hint}: read it from that dict (keep it in a variable where you have it), then "
        "run the fixed program."
    )


def _holder(code: str, lineno: int, tool_names: list[str]) -> tuple[str, int, str] | None:
    """``(variable, line, line's text)`` of the innermost ``for`` loop around `lineno`
    whose variable takes the items one of `tool_names` returns, directly
    (``for user in list_users():``) or through a name assigned its result."""
    try:
        tree = parse_program(code)
    except (SyntaxError, ValueError):
        return None
    results = {  # names assigned a call of one of the tools: users = list_users()
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _calls(node.value, tool_names)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found: tuple[str, int, str] | None = None
    lines = code.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, ast.For) or not isinstance(node.target, ast.Name):
            continue
        source = node.iter
        if not (
            _calls(source, tool_names) or (isinstance(source, ast.Name) and source.id in results)
        ):
            continue
        inside = node.lineno <= lineno <= (node.end_lineno or node.lineno)
        if inside and (found is None or node.lineno > found[1]):  # the innermost
            found = (node.target.id, node.lineno, lines[node.lineno - 1].strip())
    return found


def _calls(node: ast.expr, tool_names: list[str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name) and func.id in tool_names:
        return True
    # call_tool("list_users")
    return (
        isinstance(func, ast.Name)
        and func.id == "call_tool"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in tool_names
    )
