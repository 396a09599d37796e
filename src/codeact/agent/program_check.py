"""A check before a program runs: does it define functions that already exist in the sandbox?

Small models often "help" by writing their own `list_users()` with made-up data above the
code that uses it. The program would then run on invented data and print a confident, wrong
answer. Where the definitions are whole top-level statements (a ``def``, a ``class``, an
assignment or an import that binds only tool names), they are cut out and the rest of the
program runs on the real functions; the model is told what was cut (`removal_note`). Where
they cannot be cut cleanly (nested, or sharing a statement with other names), the program is
not run and the model is told which definitions to delete (`shadowing_message`).
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from dataclasses import dataclass

from .._nesting import parse_program

__all__ = [
    "NOTE_MARKER",
    "REFUSAL",
    "StrippedProgram",
    "removal_note",
    "shadowed_tools",
    "shadowing_message",
    "strip_tool_definitions",
    "unwrap_code_tool_call",
    "unwrapped_note",
]


def shadowed_tools(code: str, tool_names: Collection[str]) -> list[str]:
    """Tool names that `code` defines or assigns (in source order); [] when it cannot parse
    (the sandbox reports the syntax error with its line)."""
    try:
        tree = parse_program(code)
    except (SyntaxError, ValueError):
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        found += [n for n in _bound_names(node) if n in tool_names and n not in found]
    return found


@dataclass(frozen=True)
class StrippedProgram:
    """`code` without the top-level statements that defined tools (`removed`, in order)."""

    code: str
    removed: list[str]


def strip_tool_definitions(code: str, tool_names: Collection[str]) -> StrippedProgram | None:
    """The program with its top-level definitions of tool names cut out, or None when that
    cannot be done cleanly: a definition nested in other code, a statement that also binds
    other names, a statement sharing its lines with another, or nothing left to run."""
    shadowed = shadowed_tools(code, tool_names)
    if not shadowed:
        return None
    tree = ast.parse(code)  # parses: shadowed_tools did
    cut: list[ast.stmt] = []
    for stmt in tree.body:
        names = _bound_names(stmt)
        if names and all(n in tool_names for n in names):
            cut.append(stmt)
    top_level = {n for stmt in cut for n in _bound_names(stmt)}
    if set(shadowed) - top_level:
        return None  # some definition is nested or mixed with other names
    lines = code.splitlines(keepends=True)
    spans = {id(s): _span(s) for s in tree.body}
    drop: set[int] = set()
    for stmt in cut:
        first, last = spans[id(stmt)]
        for other in tree.body:  # `x = 1; def list_users(): ...` on one line: leave it
            if other is not stmt and other not in cut:
                o_first, o_last = spans[id(other)]
                if o_first <= last and first <= o_last:
                    return None
        drop.update(range(first, last + 1))
    if len(cut) == len(tree.body):
        return None  # only definitions: nothing of the model's own would run
    kept = "".join(line for number, line in enumerate(lines, 1) if number not in drop)
    return StrippedProgram(code=kept, removed=[n for n in shadowed if n in top_level])


def unwrap_code_tool_call(code: str, code_tool: str) -> str | None:
    """The program inside ``execute_code("...")`` when that one call is the whole program
    (a small model calls the code tool from inside its own code, where it does not exist);
    None otherwise."""
    try:
        tree = parse_program(code)
    except (SyntaxError, ValueError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (
        isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == code_tool
    ):
        return None
    given = [*call.args, *(k.value for k in call.keywords)]
    if len(given) != 1 or any(k.arg not in (None, "code") for k in call.keywords):
        return None
    inner = given[0]
    if isinstance(inner, ast.Constant) and isinstance(inner.value, str) and inner.value.strip():
        return inner.value
    return None


def unwrapped_note(code_tool: str) -> str:
    return (
        f"{NOTE_MARKER} the program was one call of {code_tool}(...) with a program in a "
        f"string, which does not exist inside the sandbox; that program ran instead. Send the "
        f"program itself as {code_tool}'s code argument."
    )


_EXIST = "already exist in the sandbox and return the real data"
#: How the two answers about tool definitions begin (`codeact.agent.nudges` knows them).
REFUSAL = "Error: the program was not run"
NOTE_MARKER = "[note]"


def shadowing_message(names: list[str]) -> str:
    return (
        f"{REFUSAL}, because it defines {_listed(names)}. These "
        f"functions {_EXIST}; a definition of your own would replace them with invented "
        "data. Delete those definitions and call the functions directly."
    )


def removal_note(names: list[str]) -> str:
    return (
        f"{NOTE_MARKER} the program defined {_listed(names)}, which {_EXIST}. Those definitions "
        "were removed and the rest of the program ran with the real functions; do not define "
        "them again."
    )


def _listed(names: list[str]) -> str:
    return ", ".join(f"{n}()" for n in names)


def _bound_names(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [t.id for t in targets if isinstance(t, ast.Name)]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    return []


def _span(stmt: ast.stmt) -> tuple[int, int]:
    """The statement's first and last line, decorators included."""
    first = stmt.lineno
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        first = min([first, *(d.lineno for d in stmt.decorator_list)])
    return first, stmt.end_lineno or stmt.lineno
