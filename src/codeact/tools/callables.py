"""What `Tool` checks and reads of what it wraps: its name, its options, its docstring and
whether it is async (a function, a method of an object, a `functools.partial`, or an object
with ``__call__``)."""

from __future__ import annotations

import builtins
import functools
import inspect
import keyword
import typing
import unicodedata
from collections.abc import Callable
from typing import Any

from .._checks import is_positive_seconds
from ..errors import ToolDefinitionError

__all__ = [
    "NO_RETURN",
    "SANDBOX_RESERVED_NAMES",
    "check_name",
    "check_options",
    "check_returns_once",
    "docstring_of",
    "is_async",
    "is_builtin",
    "is_dunder",
    "return_annotation",
    "taken_in_sandbox",
]

#: No return annotation (`inspect.Parameter.empty`, as `inspect.signature` says it).
NO_RETURN: Any = inspect.Parameter.empty

_APPROVAL_MODES = ("never_require", "always_require")

#: Names that a tool may not take: inside the sandbox every tool is also a plain function of its
#: name, and these are already taken there.
SANDBOX_RESERVED_NAMES = frozenset(
    {
        "call_tool",
        "call_tool_async",
        "ToolError",
        "ToolDenied",
        "http_request",
        "http_get",
        "http_post",
        "NetworkError",
        "NetworkDenied",
    }
)


#: Builtins of the sandbox's Python that an older host Python lacks (the wasm guest runs
#: CPython 3.14; hosts run 3.10+): a tool of such a name would hide the builtin in programs.
_NEWER_BUILTINS = frozenset(
    {"BaseExceptionGroup", "ExceptionGroup", "PythonFinalizationError", "_IncompleteInputError"}
)


def is_builtin(name: str) -> bool:
    """Whether `name` is a builtin in the host's Python or in the sandbox's."""
    return hasattr(builtins, name) or name in _NEWER_BUILTINS


def taken_in_sandbox(name: str) -> bool:
    """Whether a program's globals already hold `name` as a keyword, a builtin (of the host's
    Python or the sandbox's) or one of codeact's own functions."""
    return keyword.iskeyword(name) or name in SANDBOX_RESERVED_NAMES or is_builtin(name)


def is_dunder(name: str) -> bool:
    """Whether `name` has the form of Python's own names (``__builtins__``, ``__name__``):
    a program's globals hold such names, and a tool of that name would replace them."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def check_name(name: str) -> None:
    plain = unicodedata.normalize("NFKC", name)
    if plain != name:
        raise ToolDefinitionError(
            f"tool name {name!r} is read by Python as {plain!r} (it normalizes the letters of "
            "names, NFKC), so a program could not tell the two apart; name the tool "
            f"{plain!r} or something else with @tool(name=...)"
        )
    if keyword.iskeyword(name):
        raise ToolDefinitionError(
            f"tool name {name!r} is a Python keyword, which a program cannot call; give the "
            f"tool another name with @tool(name=...), e.g. {name + '_'!r}"
        )
    if not name.isidentifier():
        raise ToolDefinitionError(
            f"tool name {name!r} is not a Python identifier; inside the sandbox every tool is "
            "also a function of its name, so use letters, digits and underscores"
        )
    if is_dunder(name):
        raise ToolDefinitionError(
            f"tool name {name!r} starts and ends with '__', as Python's own names do "
            "(__builtins__, __name__, ...), which a program's globals hold; give the tool "
            "another name with @tool(name=...)"
        )
    if name in SANDBOX_RESERVED_NAMES or is_builtin(name):
        raise ToolDefinitionError(
            f"tool name {name!r} is already taken inside the sandbox (a builtin or one of "
            "codeact's own functions); give the tool another name with @tool(name=...)"
        )


def check_returns_once(fn: Callable[..., Any], name: str) -> None:
    """An async generator function gives an object no call can await or convert: every call
    of such a tool failed. (A sync generator is converted: its items, as a list.)"""
    while isinstance(fn, functools.partial):
        fn = fn.func
    target = fn if inspect.isroutine(fn) else type(fn).__call__
    if inspect.isasyncgenfunction(target):
        raise ToolDefinitionError(
            f"tool {name!r} is an async generator (async def with yield): a tool returns one "
            "value; collect the items and return a list (return [x async for x in ...])"
        )


def check_options(name: str, approval_mode: Any, timeout: Any) -> None:
    if approval_mode not in _APPROVAL_MODES:
        raise ToolDefinitionError(
            f"approval_mode of tool {name!r} must be one of {_APPROVAL_MODES}, "
            f"got {approval_mode!r}"
        )
    if timeout is not None and not is_positive_seconds(timeout):
        raise ToolDefinitionError(
            f"timeout of tool {name!r} must be a positive number of seconds, got {timeout!r}"
        )


def docstring_of(fn: Callable[..., Any]) -> str | None:
    """The docstring of what `fn` calls: a `functools.partial`'s function's (its own is the
    partial class's), a callable object's class's, else its call method's."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    doc = inspect.getdoc(fn)
    if doc is None and not inspect.isroutine(fn) and not isinstance(fn, type):
        doc = inspect.getdoc(type(fn).__call__)
    return doc


def is_async(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    call = None if inspect.isroutine(fn) else type(fn).__call__
    return inspect.iscoroutinefunction(fn) or (
        call is not None and inspect.iscoroutinefunction(call)
    )


def return_annotation(fn: Any) -> Any:
    """The return annotation of what `fn` calls (a framework tool's function, say), for the
    signature the model is shown; `NO_RETURN` when it has none, it names None, or it cannot be
    resolved."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if fn is None:
        return NO_RETURN
    if not (inspect.isroutine(fn) or isinstance(fn, type)) and callable(fn):
        fn = type(fn).__call__  # an object with __call__
    try:
        annotation = typing.get_type_hints(fn, include_extras=True).get("return")
    except Exception:  # a name the annotation cannot resolve: no return type is shown
        return NO_RETURN
    if annotation is None or annotation is type(None):
        return NO_RETURN
    return annotation
