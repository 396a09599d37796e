"""`typing.TypedDict` for pydantic before Python 3.12.

pydantic builds a schema for a TypedDict only from `typing_extensions.TypedDict` before 3.12
(it needs `__orig_bases__`, which `typing` adds from 3.12 on), and refuses a `typing.TypedDict`
there. `pydantic_annotation` rewrites an annotation for the pydantic model of a tool's
arguments: each TypedDict made by `typing` (and each TypedDict whose fields reach one) becomes
an equivalent `typing_extensions.TypedDict` (same name, docstring, fields, required keys and
pydantic config), inside `Annotated`, `Optional`, unions, lists, dicts and other generics and
in its own fields, recursive ones included. The tool still receives a plain dict; the
signature the model reads is rendered from the original annotation.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Annotated, Any, get_args, get_origin

import typing_extensions
from typing_extensions import is_typeddict

__all__ = ["pydantic_annotation"]

_NEEDED = sys.version_info < (3, 12)
_REQUIRED = {getattr(typing, "Required", None), typing_extensions.Required} - {None}
_NOT_REQUIRED = {getattr(typing, "NotRequired", None), typing_extensions.NotRequired} - {None}


def pydantic_annotation(tp: Any) -> Any:
    """`tp` as pydantic can build a schema for it on this Python: `tp` itself unless it
    reaches a `typing.TypedDict` before 3.12."""
    if not _NEEDED or not _reaches_typing_typeddict(tp, set()):
        return tp
    return _Rewriter().annotation(tp)


def _is_typing_typeddict(tp: Any) -> bool:
    return is_typeddict(tp) and type(tp).__module__ == "typing"


def _hints(td: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(td, include_extras=True)
    except Exception:
        return dict(getattr(td, "__annotations__", {}))


def _reaches_typing_typeddict(tp: Any, seen: set[int]) -> bool:
    if id(tp) in seen:
        return False
    seen.add(id(tp))
    if is_typeddict(tp):
        if _is_typing_typeddict(tp):
            return True
        return any(_reaches_typing_typeddict(h, seen) for h in _hints(tp).values())
    if get_origin(tp) is typing.Literal:
        return False
    return any(_reaches_typing_typeddict(arg, seen) for arg in get_args(tp))


class _Rewriter:
    """One rewrite: each TypedDict is rebuilt once, so recursive ones refer to themselves."""

    def __init__(self) -> None:
        self._built: dict[int, Any] = {}

    def annotation(self, tp: Any) -> Any:
        if is_typeddict(tp):
            if _reaches_typing_typeddict(tp, set()):
                return self._typeddict(tp)
            return tp
        origin, args = get_origin(tp), get_args(tp)
        if not args or origin is typing.Literal:
            return tp
        if origin is Annotated:
            return tp.copy_with((self.annotation(args[0]),))
        new_args = tuple(self.annotation(arg) for arg in args)
        if all(new is old for new, old in zip(new_args, args, strict=True)):
            return tp
        if isinstance(tp, types.UnionType):
            return typing.Union[new_args]  # noqa: UP007 (a union built from a tuple)
        if isinstance(tp, types.GenericAlias):
            return types.GenericAlias(origin, new_args)
        copy_with = getattr(tp, "copy_with", None)
        return copy_with(new_args) if copy_with is not None else tp

    def _typeddict(self, td: Any) -> Any:
        if id(td) in self._built:
            return self._built[id(td)]
        # Made empty first and filled after, so that a field can name the TypedDict itself.
        make: Any = typing_extensions.TypedDict
        new: Any = make(td.__name__, {})
        self._built[id(td)] = new
        required_keys = set(getattr(td, "__required_keys__", ()))
        annotations: dict[str, Any] = {}
        for name, hint in _hints(td).items():
            wrapper = get_origin(hint)
            if wrapper in _REQUIRED or wrapper in _NOT_REQUIRED:
                required = wrapper in _REQUIRED
                hint = get_args(hint)[0]
            else:
                required = name in required_keys
            field = self.annotation(hint)
            if required:
                annotations[name] = typing_extensions.Required[field]
            else:
                annotations[name] = typing_extensions.NotRequired[field]
            (required_keys.add if required else required_keys.discard)(name)
        new.__annotations__ = annotations
        new.__required_keys__ = frozenset(required_keys & annotations.keys())
        new.__optional_keys__ = frozenset(annotations.keys() - required_keys)
        new.__total__ = getattr(td, "__total__", True)
        new.__doc__ = td.__doc__
        new.__module__ = td.__module__
        new.__qualname__ = getattr(td, "__qualname__", td.__name__)
        config = getattr(td, "__pydantic_config__", None)
        if config is not None:
            new.__pydantic_config__ = config
        return new
