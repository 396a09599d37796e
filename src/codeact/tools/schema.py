"""Describe a Python function as a tool: a validator and JSON schema for its arguments, and the
typed Python signature that the model sees inside the sandbox.

Types are shown as the sandbox sees them: values cross the boundary as JSON, so a pydantic
model, dataclass or TypedDict is shown as a `TypedDict` of its fields (it arrives as a dict),
a datetime as `str` (ISO 8601), a Decimal as `float`, an Enum as a `Literal` of its values.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import keyword
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ..errors import ToolDefinitionError
from .docstrings import Docstring
from .from_parse import passes_parse_on, validates_parse_alike
from .type_text import default_text, definition_keys, render_params, render_type
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
        ``**kwargs: Any`` (named otherwise when an argument is called ``kwargs``)."""
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
            shown.append((catch_all_name(self.param_names), "v", "Any", None))
        return tuple(shown)


def catch_all_name(names: Iterable[str]) -> str:
    """The name of the ``**`` catch-all a signature shows for the arguments whose names are
    no Python names: ``kwargs``, unless an argument is called that (then ``more``, ...), so
    the signature never names two parameters alike."""
    taken = set(names)
    candidates = itertools.chain(
        ("kwargs", "more", "extra"), (f"more{i}" for i in itertools.count(2))
    )
    return next(c for c in candidates if c not in taken)


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
    hints = _type_hints(fn, name)
    bound = _bound_keywords(fn)

    params: list[ParameterSpec] = []
    fields: dict[str, Any] = {}
    for index, p in enumerate(sig.parameters.values()):
        if p.name in bound:
            continue  # set by the functools.partial: not the model's to pass
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
        if index == 0 and p.name in ("self", "cls") and p.name not in hints:
            raise ToolDefinitionError(
                f"tool {name!r} takes {p.name} first: @tool on a method in a class body "
                f"describes the unbound function; make the tool from the method of an object "
                f"instead, e.g. `tool(obj.{getattr(fn, '__name__', name)})`"
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
            # bytes cross as base64 text both ways: a tool's bytes result reaches the
            # program as base64 (`tools.results`), and a bytes parameter takes it back.
            __config__=ConfigDict(
                extra="forbid",
                arbitrary_types_allowed=False,
                val_json_bytes="base64",
                ser_json_bytes="base64",
            ),
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
    rendered = render_params(params, definitions)
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


def _type_hints(fn: Any, name: str) -> dict[str, Any]:
    """The resolved annotations of what `fn` calls: a `functools.partial`'s function's, a
    callable object's ``__call__``'s."""
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isroutine(target) or isinstance(target, type)):
        target = type(target).__call__  # an object with __call__ (Tool checked callable)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except NameError as exc:
        raise ToolDefinitionError(
            f"cannot resolve the type annotations of tool {name!r}: {str(exc).rstrip('.')}; "
            "define every type the annotations name before applying @tool"
        ) from exc
    except Exception as exc:
        raise ToolDefinitionError(
            f"cannot resolve the type annotations of tool {name!r} "
            f"({type(exc).__name__}: {str(exc).rstrip('.')}); make the tool from a function, "
            "a method of an object, a functools.partial or an object with __call__"
        ) from exc


def _bound_keywords(fn: Any) -> set[str]:
    """The arguments a `functools.partial` (or a partial of one) fixes by keyword."""
    bound: set[str] = set()
    while isinstance(fn, functools.partial):
        bound.update(fn.keywords)
        fn = fn.func
    return bound


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
