"""Validating a function tool's arguments from their parse, which the host has already made.

The host parses a call's JSON arguments once, to record them (`ToolPipeline.record`); the
validator then reads the same arguments. pydantic validating that parse (`model_validate`,
Python values) instead of the text (`model_validate_json`, which parses it again: as long
again, and as many objects again for the call to hold) gives the same keyword arguments for
most parameter types, but not for all. In lax mode (codeact's), from text and from values:

* a number becomes a different `Decimal` (``1.0``: ``Decimal('1')`` from text,
  ``Decimal('1.0')`` from the float); a bool is a `timedelta` or a `complex` only from values;
  `date`, `bytes`, `UUID` and the like are read from strings differently;
* a union picks another member: ``date | str`` takes ``"2020-01-01"`` as a date from text
  and as a str from values (the exact match wins); so do ``Model | dict``, ``set[int] | Any``;
* a strict type (``Strict()``, ``strict=True``) takes only JSON types from text and only
  Python's own from values; validators (``field_validator``) see which one ran;
* a string holding a lone surrogate (``"\\ud800"``) is invalid text for pydantic's parser,
  and a plain (if unusual) str for Python;
* error messages say "an object", "a valid array", "null" from text and "a valid
  dictionary", "a valid list", "None" from values.

So a parse is validated only where the two cannot differ: `validates_parse_alike(model)`,
asked once per tool, holds for schemas made only of JSON's own types (``int``, ``float``,
``str``, ``bool``, None, ``Any``, ``Literal``, enums, lists, dicts, tuples, sets, and models,
dataclasses and TypedDicts of those), with unions only of scalars, lists and dicts and no
strictness or validators anywhere; `may_hold_lone_surrogate(text)` tells a text to validate
as text. A parse that fails validation is validated again from the text, so that every error
message stays the text's (and a program's mistake costs a second parse, no more).
`tests/unit/test_argument_cost.py` checks both ways agree over a table of types and values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pydantic

from .._nesting import MAX_ARGUMENT_DEPTH, nests_deeper
from .problems import MAX_LISTED_PROBLEMS

__all__ = [
    "may_hold_lone_surrogate",
    "model_from_parse",
    "passes_parse_on",
    "validates_parse_alike",
]

# Read alike from text and from values, in a union or not.
_PLAIN = frozenset({"any", "none", "bool", "int", "float", "str", "literal", "list", "dict"})
# Read alike too, but not as a union's members (the union's choice may differ).
_CONTAINERS = frozenset({"enum", "tuple", "set", "frozenset", "nullable", "default"})
_RECORDS = frozenset({"model", "model-fields", "typed-dict", "dataclass", "dataclass-args"})
_FIELDS = frozenset({"model-field", "typed-dict-field", "dataclass-field"})
# The keys of a schema node that hold other nodes.
_CHILDREN = ("schema", "items_schema", "keys_schema", "values_schema")

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHALLOW = 2 * (MAX_ARGUMENT_DEPTH + 1)  # shorter JSON cannot nest deeper


def validates_parse_alike(model: Any) -> bool:
    """Whether validating the parse of any JSON text with `model` (a pydantic model class)
    gives what validating the text gives: the same value, or an error (see above)."""
    schema = getattr(model, "__pydantic_core_schema__", None)
    return isinstance(schema, Mapping) and _alike(schema, in_union=False)


def passes_parse_on(model: Any) -> bool:
    """Whether `model` may hand on lists and dicts of the parse it validates as they are
    (where it takes ``Any``: a bare ``list`` or ``dict`` holds ``Any``); elsewhere pydantic
    builds new ones. Those the tool receives are then the parse's own."""
    schema = getattr(model, "__pydantic_core_schema__", None)
    return not isinstance(schema, Mapping) or _any_node(schema)


def _any_node(schema: Mapping[str, Any]) -> bool:
    stack: list[Any] = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if item.get("type") == "any":
                return True
            stack.extend(v for k, v in item.items() if k not in _NOT_SCHEMAS)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


# Keys of a schema node whose values are data, not schemas (a default may look like one).
_NOT_SCHEMAS = frozenset({"default", "expected", "members", "metadata", "cls", "config", "ref"})


def _alike(node: Mapping[str, Any], *, in_union: bool) -> bool:
    # Iterative over the schema's nodes: (node, whether it is inside a union).
    stack: list[tuple[Any, bool]] = [(node, in_union)]
    while stack:
        item, union = stack.pop()
        if not isinstance(item, Mapping):
            return False
        kind = item.get("type")
        if item.get("strict") or _strict_config(item.get("config")):
            return False
        if kind == "definitions":
            stack.append((item.get("schema"), union))
            stack.extend((d, False) for d in item.get("definitions") or ())
            continue
        if kind == "definition-ref":
            if union:  # a model, maybe: not in a union
                return False
            continue
        if kind == "union":
            stack.extend((_choice(c), True) for c in item.get("choices") or ())
            continue
        if kind in _PLAIN:
            pass
        elif kind in _CONTAINERS or kind in _RECORDS or kind in _FIELDS:
            if union:
                return False
            if item.get("custom_init") or item.get("post_init") or item.get("root_model"):
                return False
        else:
            return False  # dates, Decimal, bytes, validators, anything not listed: text
        for key in _CHILDREN:
            child = item.get(key)
            if isinstance(child, Mapping):
                stack.append((child, union))
            elif isinstance(child, (list, tuple)):
                stack.extend((c, union) for c in child)
        fields = item.get("fields")
        if isinstance(fields, Mapping):
            stack.extend((f, union) for f in fields.values())
        elif isinstance(fields, (list, tuple)):  # a dataclass's: its names, then its args'
            stack.extend((f, union) for f in fields if isinstance(f, Mapping))
    return True


def _choice(choice: Any) -> Any:
    """A union's member: a schema, or (schema, label)."""
    return choice[0] if isinstance(choice, tuple) else choice


def _strict_config(config: Any) -> bool:
    return isinstance(config, Mapping) and bool(config.get("strict"))


def model_from_parse(model: Any, alike: bool, text: str | bytes, parsed: Any) -> Any | None:
    """`model` (a pydantic model class) validated from `parsed`, the parse of `text`, when
    that is sure to give what validating `text` gives (`alike`: `validates_parse_alike`);
    None when `text` must be validated: a schema or a text that may read differently,
    arguments nested too deep (the text's parser says so) or invalid (its messages). Raises
    pydantic's ValidationError for more than `MAX_LISTED_PROBLEMS` problems (counted, not
    listed: see `tools.problems`)."""
    if not alike or type(parsed) is not dict:
        return None
    # Most texts: ASCII without an escape, short (on every call: kept to a few checks in C).
    plain = type(text) is str and text.isascii() and "\\u" not in text
    if not plain and may_hold_lone_surrogate(text):
        return None
    if len(text) >= _SHALLOW and nests_deeper(text, parsed, MAX_ARGUMENT_DEPTH):
        return None
    try:  # what model_validate calls, without its wrapper (0.5 us a call)
        return model.__pydantic_validator__.validate_python(parsed)
    except pydantic.ValidationError as exc:
        if exc.error_count() > MAX_LISTED_PROBLEMS:
            raise  # described from the parse: the text would have as many found again
        return None


def may_hold_lone_surrogate(text: str | bytes) -> bool:
    """Whether JSON `text` may hold a surrogate: an escape ``\\ud800``-``\\udfff`` (a pair of
    them, an emoji sent ASCII-only, too) or the character itself. Validated as text then."""
    if isinstance(text, bytes):
        return not text.isascii() or _SURROGATE_ESCAPE_BYTES.search(text) is not None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) is not None:
        return True
    return not text.isascii() and _SURROGATE.search(text) is not None
