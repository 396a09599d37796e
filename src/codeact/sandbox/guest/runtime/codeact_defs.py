"""A session's definitions, inside the sandbox: which top-level names a program defined and
where, whether restore can run a definition again as it was (`definition_problem`), and
whether running it again runs any of the program's code (`inert`: then restore needs no
tracer for its deadline). `codeact_save` asks these when it saves a call's state.

Standard library only: this runs on every backend's guest interpreter (CPython 3.10+).
"""

from __future__ import annotations
import __future__

import ast
import sys
import types
from collections.abc import Iterator
from typing import Any

from codeact_lazy import reads_of
from codeact_state import Carried

__all__ = ["definition_problem", "imported", "inert", "made_by_program", "parse", "top_level_defs"]

_ANNOTATIONS = __future__.annotations.compiler_flag


def imported(value: Any) -> tuple[str, str] | None:
    """(module, qualified name) of a class or function that importing finds again."""
    if not isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        return None
    module, path = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(path, str) or module == "__main__":
        return None
    target: Any = sys.modules.get(module)
    for part in path.split("."):
        target = getattr(target, part, None)
    return (module, path) if target is value else None


def made_by_program(value: Any, name: str) -> bool:
    """A function or class the program defined under this name (not an alias, an instance)."""
    return (
        (isinstance(value, type) or callable(value))
        and getattr(value, "__module__", None) == "__main__"
        and getattr(value, "__qualname__", None) == name
    )


def definition_problem(
    value: Any, name: str, spans: dict[str, tuple[int, int]], c: Carried, filename: str
) -> str:
    """Why the definition behind `value` cannot be run again ("" when it can): the program
    defined it, but not with the top-level statement restore would run (it was defined, or
    defined again, inside a block)."""
    if name in spans:
        first, last = spans[name]
        line = _first_line(value, name, filename)
        if line is not None and first <= line <= last:
            return ""
        if line is None and not _defined_in_block(c.tree, name):
            return ""  # nothing says where it was made, and only the top level makes it
    elif name in c.objects and c.objects[name] is value:
        return ""
    return (
        "it was defined inside a block (an if, a loop, a function); define it at the top "
        "level of a program to keep it"
    )


def _first_line(value: Any, name: str, filename: str) -> int | None:
    """The line of the program where `value` was defined; None when nothing says."""
    for _ in range(100):  # a decorator's wrapper (functools.wraps) points to the function
        if not hasattr(value, "__wrapped__"):
            break
        value = value.__wrapped__
    if isinstance(value, type):
        line = vars(value).get("__firstlineno__")  # Python 3.13+: the class statement's
        if isinstance(line, int):
            return line
        # Before 3.13: a method of its own body tells where the body was
        for member in vars(value).values():
            member = getattr(member, "__func__", getattr(member, "fget", member))
            code = getattr(member, "__code__", None)
            if code is not None and getattr(member, "__qualname__", "").startswith(f"{name}."):
                value = member
                break
    code = getattr(value, "__code__", None)
    if code is None or code.co_filename != filename:
        return None
    return int(code.co_firstlineno)


def _defined_in_block(tree: ast.Module | None, name: str) -> bool:
    """Whether the program defines `name` anywhere but at its top level."""
    if tree is None:
        return True
    top = {id(node) for node in tree.body}
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.name == name
        and id(node) not in top
        for node in ast.walk(tree)
    )


def parse(code: str, filename: str) -> ast.Module | None:
    try:
        return ast.parse(code, filename)
    except SyntaxError:
        return None


def top_level_defs(
    tree: ast.Module | None, code: str
) -> Iterator[tuple[str, str, int, list[str], tuple[int, int], bool]]:
    """(name, source, flags, names it reads, (first line, last line), whether it is inert)
    of each top-level def and class."""
    if tree is None:
        return
    lines = code.splitlines(True)
    flags = 0
    for node in tree.body:
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if future and any(alias.name == "annotations" for alias in node.names):  # type: ignore[attr-defined]
            flags |= _ANNOTATIONS
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            last = node.end_lineno or node.lineno
            source = "".join(lines[first - 1 : last])
            reads = sorted(set(reads_of(node)))
            yield node.name, source, flags, reads, (first, last), inert(node)


#: What an inert definition's defaults, annotations and class-level values may be made of.
_PLAIN = (ast.Constant, ast.Name, ast.Attribute, ast.Load, ast.Tuple)


def inert(node: ast.stmt) -> bool:
    """Whether running this definition again runs none of the program's code (no decorator,
    no base class, defaults and annotations of constants and names, a class body of such
    methods and constants): then restore needs no tracer for its deadline."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        made = [*args.defaults, *args.kw_defaults, node.returns]
        made += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        made += [a.annotation for a in (args.vararg, args.kwarg) if a is not None]
        plain = all(type(n) in _PLAIN for m in made if m is not None for n in ast.walk(m))
        return not node.decorator_list and plain and not getattr(node, "type_params", None)
    if isinstance(node, ast.ClassDef):
        if node.decorator_list or node.bases or node.keywords:
            return False
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not inert(statement):
                    return False
            elif isinstance(statement, (ast.Assign, ast.Expr)):
                targets = getattr(statement, "targets", [])
                if not all(isinstance(t, ast.Name) for t in targets):
                    return False
                if not all(type(n) in _PLAIN for n in ast.walk(statement.value)):
                    return False
            elif not isinstance(statement, ast.Pass):
                return False
        return not getattr(node, "type_params", None)
    return False
