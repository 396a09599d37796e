"""How a tool's types read in the signature the model is shown (and the sandbox's help()).

`render_type` writes a type as the JSON-shaped Python value the program gets (``list[str]``,
``dict[str, int]``, a structured type by its name, defined once as ``class Name(TypedDict)``
with its optional keys ``NotRequired[...]``); `render_params` writes a parameter list as a
`def` does; `default_text` a default; `definition_keys` reads a definition's field names back.
"""

from __future__ import annotations

import ast
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import fractions
import inspect
import json
import keyword
import pathlib
import types
import typing
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import typing_extensions
from pydantic import BaseModel
from typing_extensions import is_typeddict

if TYPE_CHECKING:
    from .schema import ParameterSpec

__all__ = ["bytes_note", "default_text", "definition_keys", "render_params", "render_type"]

_EMPTY = inspect.Parameter.empty
_SEQUENCES = {
    list,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.MutableSet,
    collections.abc.Iterable,
    collections.abc.Collection,
}
#: TypedDict key markers: True for Required, False for NotRequired.
_MARKS: dict[Any, bool] = {
    typing_extensions.Required: True,
    typing_extensions.NotRequired: False,
    **{
        getattr(typing, n): n == "Required"
        for n in ("Required", "NotRequired")
        if hasattr(typing, n)
    },
}
_MAPPINGS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}
_AS_STR: tuple[type, ...] = (
    datetime.datetime,
    datetime.date,
    datetime.time,
    uuid.UUID,
    pathlib.PurePath,
    bytes,
)
_AS_FLOAT: tuple[type, ...] = (decimal.Decimal, fractions.Fraction, datetime.timedelta)


def render_params(params: list[ParameterSpec], definitions: dict[str, str]) -> list[str]:
    """The parameters as a `def` lists them: one bare `*` before the first keyword-only one
    (positional-only parameters are refused, so there is never a `/`)."""
    rendered: list[str] = []
    starred = False
    for p in params:
        if not p.positional and not starred:
            rendered.append("*")
            starred = True
        rendered.append(_render_param(p, definitions))
    return rendered


def default_text(default: Any) -> str:
    """A parameter's default as a signature shows it: its repr, "..." when that is long."""
    text = repr(default.value if isinstance(default, enum.Enum) else default)
    return text if len(text) <= 40 else "..."


def _render_param(p: ParameterSpec, definitions: dict[str, str]) -> str:
    text = f"{p.name}: {render_type(p.annotation, definitions)}"
    if not p.required:
        text += f" = {default_text(p.default)}"
    return text


def render_type(tp: Any, definitions: dict[str, str] | None = None) -> str:
    """Render `tp` as the Python type of the value the sandbox sees (JSON-shaped)."""
    defs = definitions if definitions is not None else {}
    if tp is Any or tp is inspect.Parameter.empty:
        return "Any"
    if tp is None or tp is type(None):
        return "None"
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return render_type(args[0], defs)
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        parts: list[str] = []
        for arg in args:
            text = render_type(arg, defs)
            if text not in parts:
                parts.append(text)
        return " | ".join(parts)
    if origin is Literal:
        return (
            f"Literal[{', '.join(repr(a.value if isinstance(a, enum.Enum) else a) for a in args)}]"
        )
    if origin in _SEQUENCES:
        return f"list[{render_type(args[0], defs)}]" if args else "list"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list[{render_type(args[0], defs)}]"
        inner = " | ".join(dict.fromkeys(render_type(a, defs) for a in args))
        return f"list[{inner}]" if args else "list"
    if origin in _MAPPINGS:
        if args:
            return f"dict[{render_type(args[0], defs)}, {render_type(args[1], defs)}]"
        return "dict"
    if isinstance(tp, typing.TypeVar):
        return "Any"
    if isinstance(tp, type):
        return _render_class(tp, defs)
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _render_class(tp: type, defs: dict[str, str]) -> str:
    if tp in (str, int, float, bool):
        return tp.__name__
    if issubclass(tp, enum.Enum):
        return f"Literal[{', '.join(repr(m.value) for m in tp)}]"
    if issubclass(tp, _AS_STR):
        return "str"
    if issubclass(tp, _AS_FLOAT):
        return "float"
    if tp in (list, tuple, set, frozenset):
        return "list"
    if tp is dict:
        return "dict"
    fields = _structured_fields(tp)
    if fields is not None:
        if tp.__name__ not in defs:
            defs[tp.__name__] = ""  # reserve first: recursive types refer to themselves
            rows = []
            for fname, (ftype, fdesc, required) in fields.items():
                shown = render_type(ftype, defs)
                shown = shown if required else f"NotRequired[{shown}]"
                rows.append((fname, shown, " ".join(fdesc.split()) if fdesc else ""))
            defs[tp.__name__] = typed_dict_text(tp.__name__, rows, total=True)
        return tp.__name__
    return tp.__name__


def definition_keys(definition: str) -> list[str]:
    """The field names of a definition `render_type` wrote (``class X(TypedDict):`` then one
    ``name: type  # description`` line per field, or TypedDict's functional form for keys
    that are no Python names), in order."""
    if not definition.startswith("class "):
        return _functional_keys(definition)
    keys: list[str] = []
    for line in definition.splitlines()[1:]:
        name, sep, _ = line.strip().partition(":")
        if sep and name.isidentifier():
            keys.append(name)
    return keys


def typed_dict_text(name: str, fields: list[tuple[str, str, str]], *, total: bool) -> str:
    """The definition of a TypedDict `name` with `fields` (key, type text, one-line
    description), as `definition_keys` reads it back: the class form, or the functional
    form when a key is no Python name ("dc:title", a line break: a server chooses them),
    each key then a JSON string, so that no key breaks the line or adds to the model's text."""
    flag = "" if total else ", total=False"
    if all(key.isidentifier() and not keyword.iskeyword(key) for key, _, _ in fields):
        lines = [f"class {name}(TypedDict{flag}):"]
        lines += [f"    {k}: {t}" + (f"  # {d}" if d else "") for k, t, d in fields]
        return "\n".join(lines if fields else [*lines, "    pass"])
    items = ", ".join(f"{json.dumps(k)}: {t}" for k, t, _ in fields)
    notes = "; ".join(f"{json.dumps(k)}: {d}" for k, _, d in fields if d)
    text = f"{name} = TypedDict({json.dumps(name)}, {{{items}}}{flag})"
    return text + (f"  # {notes}" if notes else "")


def _functional_keys(definition: str) -> list[str]:
    """The keys of ``Name = TypedDict("Name", {"a:b": str, ...})`` (its comment aside)."""
    try:
        statement = ast.parse(definition).body[0]
    except (SyntaxError, IndexError, ValueError):
        return []
    call = statement.value if isinstance(statement, ast.Assign) else None
    if not isinstance(call, ast.Call) or len(call.args) < 2:
        return []
    fields = call.args[1]
    if not isinstance(fields, ast.Dict):
        return []
    return [
        k.value for k in fields.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
    ]


def bytes_note(params: list[ParameterSpec] | tuple[ParameterSpec, ...], returns: Any) -> str:
    """What the description adds when bytes cross: they travel as base64 text both ways (a
    bytes result arrives as base64; a bytes parameter takes base64, that result included,
    which the host decodes); "" when no parameter or result holds bytes."""
    takes = [p.name for p in params if _holds_bytes(p.annotation, set())]
    gives = returns is not inspect.Parameter.empty and _holds_bytes(returns, set())
    if not takes and not gives:
        return ""
    parts = []
    if takes:
        names = ", ".join(takes)
        parts.append(f"{names} {'is' if len(takes) == 1 else 'are'} bytes: pass base64 text")
    if gives:
        parts.append("the bytes in its result come as base64 text (base64.b64decode them)")
    return "Bytes travel as base64 text: " + "; ".join(parts) + "."


def _holds_bytes(tp: Any, seen: set[int]) -> bool:
    """Whether `tp` is bytes or holds bytes in its arguments, TypedDict keys or dataclass
    fields (a pydantic model's fields follow its own config: not looked into)."""
    if id(tp) in seen:
        return False
    seen.add(id(tp))
    if isinstance(tp, type) and issubclass(tp, (bytes, bytearray)):
        return True
    if any(_holds_bytes(arg, seen) for arg in get_args(tp)):
        return True
    if isinstance(tp, type) and (is_typeddict(tp) or dataclasses.is_dataclass(tp)):
        fields = _structured_fields(tp) or {}
        return any(_holds_bytes(ftype, seen) for ftype, _, _ in fields.values())
    return False


def _structured_fields(tp: type) -> dict[str, tuple[Any, str, bool]] | None:
    """Fields of a pydantic model, dataclass or TypedDict as {name: (type, description,
    required)}; not required: a TypedDict's NotRequired (or total=False) key, a model's or
    dataclass's field with a default (an argument may leave it out)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {
            (info.alias or name): (info.annotation, info.description or "", info.is_required())
            for name, info in tp.model_fields.items()
        }
    if dataclasses.is_dataclass(tp):
        hints = _safe_hints(tp)
        return {
            f.name: (hints.get(f.name, f.type), "", _no_default(f)) for f in dataclasses.fields(tp)
        }
    if is_typeddict(tp):
        return {name: _typeddict_field(tp, name, ftype) for name, ftype in _hints(tp).items()}
    return None


def _typeddict_field(tp: type, name: str, ftype: Any) -> tuple[Any, str, bool]:
    """A TypedDict key's type and whether it is required: its own `Required[...]` or
    `NotRequired[...]` says (read here too: written as a string, under ``from __future__
    import annotations``, the class itself may have missed it), else the class's total."""
    if get_origin(ftype) in _MARKS:
        return get_args(ftype)[0], "", _MARKS[get_origin(ftype)]
    return ftype, "", name in getattr(tp, "__required_keys__", (name,))


def _hints(tp: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(tp, include_extras=True)
    except Exception:
        return dict(getattr(tp, "__annotations__", {}))


def _no_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _safe_hints(tp: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(tp)
    except Exception:
        return dict(getattr(tp, "__annotations__", {}))
