"""What a program can learn about its tools and other objects: each tool function's signature
(``inspect.signature``) and docstring, and ``help()``.

The host sends each tool's parameters, return type and docstring as text (the request's tool
stubs: ``"params": [[name, kind, annotation, default], ...]``, ``"returns"``, ``"doc"``).
`describe` gives a tool function its ``__doc__`` and a ``__signature__`` that is built only
when a program first asks for it (most programs never do, and every run defines every tool).
`install` makes ``help`` a builtin on every backend: pydoc's where the interpreter has it
(the jail), a short one where it does not (the wasm guest); a tool's help is the same on all.

Runs inside the sandbox; imports only the standard library.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Help", "describe", "install"]

_KINDS = {
    "p": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "k": inspect.Parameter.KEYWORD_ONLY,
    "v": inspect.Parameter.VAR_KEYWORD,
}
_EMPTY = inspect.Parameter.empty


class _Shown:
    """An annotation or default known only by its text: shown as that text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _annotation(text: str) -> Any:
    """The type an annotation's text names when it is one the sandbox has (``str``,
    ``list[dict[str, Any]] | None``, ``Literal['a']``), else the text itself."""
    import typing

    names = {"Any": typing.Any, "Literal": typing.Literal, "__builtins__": builtins}
    try:
        return eval(text, names)  # the host's text, which the guest trusts
    except Exception:
        return _Shown(text)


def _default(text: str) -> Any:
    import ast

    if text == "...":  # a long default the signature shortens
        return _Shown(text)
    try:
        return ast.literal_eval(text)
    except Exception:
        return _Shown(text)


class _ToolSignature(inspect.Signature):
    """A tool function's ``__signature__``: an `inspect.Signature` whose parameters are made
    from the host's text when something first reads them (`inspect.Signature` reads its
    unset slots, which land here)."""

    __slots__ = ("_stub",)

    def __init__(self, *args: Any, stub: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if stub is None:  # replace() and unpickling make a plain one
            super().__init__(*args, **kwargs)
        else:
            self._stub = stub

    def __getattr__(self, name: str) -> Any:
        if name not in ("_parameters", "_return_annotation"):
            raise AttributeError(name)
        stub = self._stub
        params = [
            inspect.Parameter(
                pname,
                _KINDS[kind],
                default=_EMPTY if default is None else _default(default),
                annotation=_annotation(annotation),
            )
            for pname, kind, annotation, default in stub.get("params") or ()
        ]
        returns = _annotation(stub["returns"]) if stub.get("returns") else _EMPTY
        try:
            built = inspect.Signature(params, return_annotation=returns)
        except (TypeError, ValueError):  # an order Python would refuse: shown as it came
            built = inspect.Signature(
                params, return_annotation=returns, __validate_parameters__=False
            )
        object.__setattr__(self, "_parameters", built.parameters)
        object.__setattr__(self, "_return_annotation", built.return_annotation)
        return getattr(built, name)


_ToolSignature.__name__ = _ToolSignature.__qualname__ = "Signature"


def describe(function: Callable[..., Any], stub: dict[str, Any]) -> Callable[..., Any]:
    """`function` (a tool's) with the docstring and signature its stub gives, if any."""
    doc = stub.get("doc")
    if isinstance(doc, str):
        function.__doc__ = doc
    if isinstance(stub.get("params"), list):
        function.__signature__ = _ToolSignature(stub=stub)  # type: ignore[attr-defined]
    return function


# -- help() --------------------------------------------------------------------------------
def _signature(obj: Any, name: str) -> str:
    try:
        return name + str(inspect.signature(obj))
    except (TypeError, ValueError):
        return name + "(...)"


def _indented(text: str) -> str:
    return "".join("    " + line if line.strip() else line for line in text.splitlines(True))


def _tool_help(function: Any) -> str:
    doc = inspect.getdoc(function) or ""
    head = f"Help on tool {function.__name__}:\n\n{_signature(function, function.__name__)}\n"
    return head + (_indented(doc) + "\n" if doc else "") + "\n"


def _members(obj: Any) -> list[str]:
    """One line for each public function and class of a module or class: its signature or
    name, and the first line of its docstring."""
    lines = []
    for name in sorted(dir(obj)):
        if name.startswith("_"):
            continue
        try:
            member = getattr(obj, name)
        except Exception:
            continue
        if not callable(member):
            continue
        shown = name if isinstance(member, type) else _signature(member, name)
        summary = (inspect.getdoc(member) or "").strip().partition("\n")[0]
        lines.append(f"    {shown}\n        {summary}\n" if summary else f"    {shown}\n")
    return lines


def _short_help(obj: Any) -> str:
    """help(obj) where pydoc is missing: what it is, its signature and its docstring (and a
    module's or class's functions and classes)."""
    if isinstance(obj, str):
        found = _locate(obj)
        if found is None:
            return f"No Python documentation found for {obj!r}.\n"
        obj = found
    if not (inspect.ismodule(obj) or isinstance(obj, type) or callable(obj)):
        obj = type(obj)  # as pydoc: the help of an instance is its class's
    name = getattr(obj, "__name__", None) or type(obj).__name__
    module = getattr(obj, "__module__", None)
    where = f" in module {module}" if isinstance(module, str) else ""
    if inspect.ismodule(obj):
        head = f"Help on module {name}:\n\n{name}\n"
    elif isinstance(obj, type):
        head = f"Help on class {name}{where}:\n\n{_signature(obj, 'class ' + name)}\n"
    else:
        kind = "built-in function" if inspect.isbuiltin(obj) else "function"
        head = f"Help on {kind} {name}{where}:\n\n{_signature(obj, name)}\n"
    doc = inspect.getdoc(obj) or ""
    text = head + (_indented(doc) + "\n" if doc else "")
    if inspect.ismodule(obj) or isinstance(obj, type):
        members = _members(obj)
        if members:
            text += "\nFUNCTIONS AND CLASSES\n" + "\n".join(members)
    return text + "\n"


def _locate(path: str) -> Any:
    """The object a dotted name names: a module, an attribute of one, or a builtin."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:end]))
        except Exception:
            continue
        try:
            for part in parts[end:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    obj = getattr(builtins, parts[0], None)
    for part in parts[1:]:
        obj = getattr(obj, part, None)
    return obj


class Help:
    """The builtin ``help``: the jail's interpreter runs without `site`, which defines it,
    and the wasm guest has no pydoc, which it calls."""

    def __repr__(self) -> str:
        return "Type help(object) for help about object."

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if not args and not kwargs:  # pydoc's would wait for input that never comes
            sys.stdout.write(_NO_INTERACTIVE)
        elif args and getattr(args[0], "_codeact_tool", False):
            sys.stdout.write(_tool_help(args[0]))
        else:
            try:
                import pydoc
            except ImportError:
                sys.stdout.write(_short_help(args[0] if args else kwargs.get("request")))
                return
            pydoc.help(*args, **kwargs)


_NO_INTERACTIVE = (
    "help(object) shows an object's signature and docstring; the sandbox has no interactive help.\n"
)


def install() -> None:
    """Make `Help` the builtin ``help``."""
    builtins.help = Help()  # type: ignore[assignment]
