"""Describe a Python function as a tool: a validator and JSON schema for its arguments, and the
typed Python signature that the model sees inside the sandbox.

Types are shown as the sandbox sees them: values cross the boundary as JSON, so a pydantic
model, dataclass or TypedDict is shown as a `TypedDict` of its fields (it arrives as a dict),
a datetime as `str` (ISO 8601), a Decimal as `float`, an Enum as a `Literal` of its values.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import inspect
import keyword
import pathlib
import types
import typing
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, Union, get_args, get_origin

import pydantic
import typing_extensions
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import is_typeddict

from ..errors import ToolDefinitionError
from .docstrings import Docstring
from .from_parse import passes_parse_on, validates_parse_alike
from .typeddicts import pydantic_annotation

__all__ = [
    "FunctionSchema",
    "GuestParam",
    "ParameterSpec",
    "build_function_schema",
    "default_text",
    "definition_keys",
    "render_type",
]

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


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter of a tool, as the sandbox's plain function takes it."""

    name: str
    annotation: Any
    default: Any
    description: str
    positional: bool  # may be passed positionally (not keyword-only)

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


#: A parameter as the sandbox's plain function shows it (``inspect.signature``, help()): its
#: name, kind ("p": positional or keyword, "k": keyword-only, "v": ``**name``), annotation as
#: the model's signature renders it, and its default's repr (None: required).
GuestParam: TypeAlias = tuple[str, str, str, "str | None"]


class ParameterNames:
    """The names a schema's `params` give, asked on every call: computed once, then kept
    (both schema classes derive them the same way)."""

    params: tuple[ParameterSpec, ...]

    @functools.cached_property
    def param_names(self) -> tuple[str, ...]:
        """The parameters' names, in order."""
        return tuple(p.name for p in self.params)

    @functools.cached_property
    def positional_names(self) -> tuple[str, ...]:
        """The parameters the sandbox's plain function accepts positionally, in order."""
        return tuple(p.name for p in self.params if p.positional)

    @functools.cached_property
    def guest_params(self) -> tuple[GuestParam, ...]:
        """The parameters as the sandbox's plain function shows them, as the model's signature
        does: a JSON name that is no Python name is passed with ``**{...}``, shown as
        ``**kwargs: Any``."""
        shown: list[GuestParam] = []
        for p in self.params:
            if not p.name.isidentifier() or keyword.iskeyword(p.name):
                continue
            annotation = (
                p.annotation if isinstance(p.annotation, str) else render_type(p.annotation)
            )
            default = None if p.required else default_text(p.default)
            shown.append((p.name, "p" if p.positional else "k", annotation, default))
        if len(shown) < len(self.params):
            shown.append(("kwargs", "v", "Any", None))
        return tuple(shown)


@dataclass(frozen=True)
class FunctionSchema(ParameterNames):
    """Everything derived from a function's signature and docstring."""

    params: tuple[ParameterSpec, ...]
    model: type[BaseModel]
    json_schema: dict[str, Any]
    return_annotation: Any
    signature: str  # "get_weather(city: str) -> dict[str, float | str]"
    definitions: dict[str, str]  # name -> "class Name(TypedDict): ..." for structured types

    @functools.cached_property
    def guest_returns(self) -> str:
        """The return annotation as the signature shows it ("" when there is none)."""
        returns = self.return_annotation
        return "" if returns is _EMPTY else render_type(returns)

    @functools.cached_property
    def validates_parse(self) -> bool:
        """Whether the arguments' parse validates as their text would (`tools.from_parse`)."""
        return validates_parse_alike(self.model)

    @functools.cached_property
    def passes_parse_on(self) -> bool:
        """Whether lists and dicts of a parse it validates may reach the tool as they are."""
        return passes_parse_on(self.model)


def build_function_schema(fn: Any, name: str, doc: Docstring) -> FunctionSchema:
    """Inspect `fn` and build its schema; raise ToolDefinitionError when it cannot be described."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"cannot read the signature of tool {name!r}: {exc}") from exc
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(
            f"cannot resolve the type annotations of tool {name!r}: {exc}. "
            "Define every type the annotations name before applying @tool."
        ) from exc

    params: list[ParameterSpec] = []
    fields: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            stars = "**" if p.kind is p.VAR_KEYWORD else "*"
            raise ToolDefinitionError(
                f"tool {name!r} takes {stars}{p.name}: a tool needs named, typed parameters "
                f"so that the model knows what to pass; list each parameter it accepts in "
                f"place of {stars}{p.name} (for example `def {name}(city: str, days: int = 1)`)"
            )
        if p.kind is p.POSITIONAL_ONLY:
            raise ToolDefinitionError(
                f"parameter {p.name!r} of tool {name!r} is positional-only; "
                "tools are called with keyword arguments, remove the '/'"
            )
        if p.name not in hints:
            raise ToolDefinitionError(
                f"parameter {p.name!r} of tool {name!r} has no type annotation; "
                f"add one (for example `{p.name}: str`) so the model knows what to pass"
            )
        annotation = hints[p.name]
        description = doc.params.get(p.name, "")
        params.append(
            ParameterSpec(
                name=p.name,
                annotation=annotation,
                default=p.default,
                description=description,
                positional=p.kind is p.POSITIONAL_OR_KEYWORD,
            )
        )
        default = ... if p.default is _EMPTY else p.default
        # Only set what the docstring says: an Annotated[..., Field(description=...)] wins.
        field = Field(default, description=description) if description else Field(default)
        fields[p.name] = (pydantic_annotation(annotation), field)

    try:
        model = pydantic.create_model(
            f"{name}_arguments",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
        schema = model.model_json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError) as exc:
        raise ToolDefinitionError(
            f"tool {name!r} has a parameter type that cannot be described as JSON: {exc}. "
            "Use JSON-like types: str, int, float, bool, lists, dicts, Literal, Optional, "
            "pydantic models, dataclasses or TypedDicts."
        ) from exc
    _strip_titles(schema)
    schema.pop("description", None)

    returns = hints.get("return", _EMPTY)
    definitions: dict[str, str] = {}
    rendered = _render_params(params, definitions)
    signature = f"{name}({', '.join(rendered)})"
    if returns is not _EMPTY:
        signature += f" -> {render_type(returns, definitions)}"
    return FunctionSchema(
        params=tuple(params),
        model=model,
        json_schema=schema,
        return_annotation=returns,
        signature=signature,
        definitions=definitions,
    )


def _strip_titles(schema: Any) -> None:
    """Drop pydantic's generated titles: they repeat the property names and cost tokens."""
    if isinstance(schema, dict):
        schema.pop("title", None)
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for prop in value.values():
                    _strip_titles(prop)
            elif key != "default":
                _strip_titles(value)
    elif isinstance(schema, list):
        for item in schema:
            _strip_titles(item)


def _render_params(params: list[ParameterSpec], definitions: dict[str, str]) -> list[str]:
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
            lines = [f"class {tp.__name__}(TypedDict):"]
            for fname, (ftype, fdesc, required) in fields.items():
                shown = render_type(ftype, defs)
                line = f"    {fname}: {shown if required else f'NotRequired[{shown}]'}"
                lines.append(f"{line}  # {fdesc}" if fdesc else line)
            if len(lines) == 1:
                lines.append("    pass")
            defs[tp.__name__] = "\n".join(lines)
        return tp.__name__
    return tp.__name__


def definition_keys(definition: str) -> list[str]:
    """The field names of a definition `render_type` wrote (``class X(TypedDict):`` then one
    ``name: type  # description`` line per field), in order."""
    keys: list[str] = []
    for line in definition.splitlines()[1:]:
        name, sep, _ = line.strip().partition(":")
        if sep and name.isidentifier():
            keys.append(name)
    return keys


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
