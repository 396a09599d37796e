"""A hint for a program that reads a loop's variable after that loop ended.

A common slip, in small models' programs most of all: a first loop fills a dict
(``for user in users: totals[user["id"]] = ...``), and a second loop prints from it with the
first loop's variable (``for uid, total in ranked: print(user["name"], total)``). The program
runs without an error and prints the last user's name on every line, and the model reports
that as its answer. A static look at the program finds it: the second loop reads `user`,
never binds it, and `user` was last bound as the first loop's variable. The agent adds one
line after the program's output, naming both lines, so the model can fix the program:
``[hint] line 12 reads `user`, the variable of the loop on line 3, after that loop ended...``.

It is a hint, not a refusal: the program has run and its output stands.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .._nesting import parse_program
from .key_hints import HINT_MARKER

__all__ = ["stale_loop_variable_hint"]

_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)


def stale_loop_variable_hint(code: str) -> str | None:
    """The hint for the first loop that reads an earlier, finished loop's variable without
    binding it; None when there is none (or the program does not parse)."""
    try:
        tree = parse_program(code)
    except (SyntaxError, ValueError):
        return None
    try:
        found = _first_stale_read_in(tree)
    except RecursionError:  # nested too deep to walk: no hint
        return None
    if found is not None:
        name, read_line, loop_line = found
        read, loop = _quoted(code, read_line), _quoted(code, loop_line)
        return (
            f"{HINT_MARKER} line {read_line} ({read}) reads `{name}`, which the loop on "
            f"line {loop_line} ({loop}) sets on each pass, after that loop ended: there "
            f"`{name}` is its value from that loop's last pass, the same on every line. "
            "If each line should show its own item's value, get it from this loop's "
            "variables (for example, keep it in what the first loop fills) and run the "
            "fixed program."
        )
    return None


def _first_stale_read_in(tree: ast.Module) -> tuple[str, int, int] | None:
    for scope in ast.walk(tree):
        if isinstance(scope, _SCOPES):
            found = _first_stale_read(scope.body)
            if found is not None:
                return found
    return None


def _quoted(code: str, line: int, limit: int = 100) -> str:
    """The program's line `line`, stripped and cut at `limit` characters, in backticks."""
    lines = code.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f"`{text[:limit]}{'...' if len(text) > limit else ''}`"


def _first_stale_read(body: list[ast.stmt]) -> tuple[str, int, int] | None:
    """(name, line read, line of its loop) for a loop among `body`'s statements that reads a
    variable a finished for-loop of the same body set on each pass: its target, or a name
    first assigned in its body (``user_name = user["name"]``). A name bound before that loop
    too is an accumulator (``total = 0`` ... ``total += x``): reading it later is meant."""
    finished: dict[str, int] = {}  # variable -> line of the finished loop that set it last
    bound_before: set[str] = set()  # names bound by the statements read so far
    for statement in body:
        if isinstance(statement, _LOOPS) and finished:
            bound = set(_bound_in(statement))
            for node in _own_nodes(statement):
                if (
                    isinstance(node, ast.Name)
                    and isinstance(node.ctx, ast.Load)
                    and node.id in finished
                    and node.id not in bound
                ):
                    return node.id, node.lineno, finished[node.id]
        # What this statement binds replaces what an earlier loop left in those names.
        bound_here = set(_bound_in(statement))
        for name in bound_here:
            finished.pop(name, None)
        if isinstance(statement, (ast.For, ast.AsyncFor)):
            per_pass = set(_names(statement.target))
            # Set on every pass: plain assignments in the loop's own body (one under an `if`
            # may be a search's result, meant to outlive the loop).
            assigned = [s for s in statement.body if isinstance(s, (ast.Assign, ast.AnnAssign))]
            per_pass |= {name for s in assigned for name in _bound_in(s)} - bound_before
            for name in per_pass:
                finished[name] = statement.lineno
        bound_before |= bound_here
    return None


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `node`, not descending into functions, classes or lambdas (their own
    scopes read names when called, not when the loop runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield child
        yield from _own_nodes(child)


def _bound_in(node: ast.AST) -> Iterator[str]:
    """Every name that `node` binds anywhere in it (assignment, loop or comprehension target,
    with ... as, except ... as, import, walrus, def, class)."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            yield child.id
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield child.name
        elif isinstance(child, ast.ExceptHandler):
            yield from [child.name] if child.name else []
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            for alias in child.names:
                yield (alias.asname or alias.name).split(".", 1)[0]


def _names(target: ast.expr) -> Iterator[str]:
    """The plain names a loop's target binds (`x`, `k, v`, `(i, (a, b))`)."""
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id
