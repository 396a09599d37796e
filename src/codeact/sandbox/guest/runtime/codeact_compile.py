"""How the runner compiles and runs a program: the last statement's value, top-level await.

A program is compiled as its body and, when it ends in an expression, that expression on its
own (its value is the run's), both in the program's own line numbers. Compiling the text is
twice as fast as going through the syntax tree (`split_compile`), which decides only where
the text alone could read wrong. A program that awaits at top level runs on a `SandboxLoop`.

Runs inside a sandbox, on any backend's interpreter: standard library and the runner's own
modules only (see codeact_runner).
"""

from __future__ import annotations

import ast
import warnings
from types import CodeType
from typing import Any

from codeact_tools import SandboxLoop

__all__ = ["parse", "run_program", "split_compile"]


def parse(code: str, filename: str) -> ast.Module:
    try:
        return ast.parse(code, filename)
    except SyntaxError as exc:
        raise exc.with_traceback(None) from None  # the program's error, not ast.py's frame


_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_NOT_A_START = frozenset(" \t\f\v#)]}@")  # what no statement starts a line at column 0 with


def split_compile(code: str, filename: str) -> tuple[CodeType, CodeType] | None:
    """The program without its last statement and that statement as an expression, each
    compiled from text, if the program ends in an expression statement that starts a line
    at column 0; else None (`_compile` then goes through the syntax tree).

    Parsing to a tree and compiling the tree costs twice compiling the text (1.8 against
    0.95 ms for the order-totals program in the wasm guest). The split is right only when
    both parts compile alone: a line inside an open bracket, a string or a continued line
    leaves the part before it unable to compile, so no other reading of the text passes.
    Line numbers stay the program's (the expression is compiled after as many newlines).

    The tree decides too when the text has a future import (barry_as_FLUFL changes how the
    rest of the file parses, the expression's too) or when compiling the parts warns: the
    expression's SyntaxWarnings would come out before the body's, and a program that does
    not compile would print them before its SyntaxError; the tree prints them as Python does."""
    if "\r" in code or "__future__" in code:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        split = _split_texts(code, filename)
    return None if caught else split


def _split_texts(code: str, filename: str) -> tuple[CodeType, CodeType] | None:
    lines = code.split("\n")
    tried = 0
    for index in range(len(lines) - 1, -1, -1):
        first = lines[index][:1]
        if not first or first in _NOT_A_START:
            continue
        if tried == 2:
            return None
        tried += 1
        try:
            tail = compile("\n" * index + "\n".join(lines[index:]), filename, "eval", _FLAGS, True)
        except (SyntaxError, ValueError):
            continue
        try:
            body = compile("\n".join(lines[:index]), filename, "exec", _FLAGS, True)
        except (SyntaxError, ValueError):
            return None
        return body, tail
    return None


#: The flag of code that awaits at top level (compiled with PyCF_ALLOW_TOP_LEVEL_AWAIT).
_CO_COROUTINE = 0x80


def _compile(code: str, filename: str, tree: ast.Module | None) -> tuple[CodeType, Any]:
    if tree is None:
        split = split_compile(code, filename)
        if split is not None:
            return split
        tree = parse(code, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        tree.body.pop()
    body = compile(tree, filename, "exec", flags=_FLAGS, dont_inherit=True)
    tail = compile(last, filename, "eval", flags=_FLAGS, dont_inherit=True) if last else None
    return body, tail


def run_program(
    code: str, filename: str, namespace: dict[str, Any], tree: ast.Module | None = None
) -> Any:
    """Run the program and give its last expression's value. A program that awaits at top
    level runs whole in one event loop, its last line too: run apart, a last line
    ``await asyncio.gather(*tasks)`` made the lines before it run without a loop
    (``create_task``: "no running event loop"), as a last line after an ``await`` did."""
    body, tail = _compile(code, filename, tree)
    if not (body.co_flags | (tail.co_flags if tail is not None else 0)) & _CO_COROUTINE:
        eval(body, namespace)
        return eval(tail, namespace) if tail is not None else None
    loop = SandboxLoop()
    try:
        return loop.run_until_complete(_run_awaiting(body, tail, namespace))
    finally:
        if not loop.is_closed():
            loop.close()


async def _run_awaiting(body: CodeType, tail: CodeType | None, namespace: dict[str, Any]) -> Any:
    ran = eval(body, namespace)
    if body.co_flags & _CO_COROUTINE:
        await ran
    if tail is None:
        return None
    value = eval(tail, namespace)
    return (await value) if tail.co_flags & _CO_COROUTINE else value
