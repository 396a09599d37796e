"""A check before a program runs: does it define functions that already exist in the sandbox?

Small models often "help" by writing their own `list_users()` with made-up data above the
code that uses it. The program would then run on invented data and print a confident, wrong
answer. Such a program is not run; the model is told which definitions to delete instead.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

__all__ = ["shadowed_tools", "shadowing_message"]


def shadowed_tools(code: str, tool_names: Collection[str]) -> list[str]:
    """Tool names that `code` defines or assigns (in source order); [] when it cannot parse
    (the sandbox reports the syntax error with its line)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        found += [n for n in names if n in tool_names and n not in found]
    return found


def shadowing_message(names: list[str]) -> str:
    listed = ", ".join(f"{n}()" for n in names)
    return (
        f"Error: the program was not run, because it defines {listed}. These functions "
        "already exist in the sandbox and return the real data; a definition of your own "
        "would replace them with invented data. Delete those definitions and call the "
        "functions directly."
    )
