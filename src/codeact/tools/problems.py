"""What is wrong with a call's arguments, said in one line each, at a cost bounded by the line.

A tool made from a function is validated by pydantic, which finds every problem: a program's
4.5 MB of ``["a", "a", ...]`` for a ``list[int]`` is 900,000 of them. Listing them all, as
``ValidationError.errors()`` and then a line each, took 7 s and 1 GB of the host for one call
(pydantic finding them, 0.3-0.6 s and 200 MB, is its own). `validation_problems` lists at most
`MAX_LISTED_PROBLEMS`: past that, it counts them, and shows the first few found in a small
part of the arguments (each list and object cut to its first items), validated again.
A tool described by a JSON schema has its problems found one by one (`JsonArgumentsSchema`):
it stops looking past the same number.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic

from .._nesting import ARGUMENTS_TOO_DEEP

__all__ = ["MAX_LISTED_PROBLEMS", "describe_error", "validation_problems"]

#: The most problems one message lists; past it, the message says how many there are.
MAX_LISTED_PROBLEMS = 20

# Problems that a cut part of the arguments may show and the arguments do not have.
_ARTIFACTS = frozenset({"missing", "too_short"})
# What a cut part of the arguments keeps: items of each list or object, nodes in all.
_ITEMS = MAX_LISTED_PROBLEMS
_NODES = 50 * MAX_LISTED_PROBLEMS


def validation_problems(
    exc: pydantic.ValidationError, model: Any, text: str | bytes | None, parsed: Any = None
) -> list[str]:
    """The problems `exc` found in arguments (the JSON `text`, or their parse, `parsed`),
    validated by `model`: one line each, or past `MAX_LISTED_PROBLEMS` their count and a few."""
    count = exc.error_count()
    if count <= MAX_LISTED_PROBLEMS:
        return [describe_error(err) for err in exc.errors(include_url=False)]
    found = [f"{count:,} problems (the first found are shown)"]
    try:
        if parsed is None and text is not None:
            parsed = json.loads(text)
        model.model_validate_json(json.dumps(_cut(parsed)))  # JSON's messages, as the text's
    except pydantic.ValidationError as part:
        errors = part.errors(include_url=False) if part.error_count() <= _NODES else []
        shown = [describe_error(e) for e in errors if e["type"] not in _ARTIFACTS]
        return found + shown[:MAX_LISTED_PROBLEMS]
    except (ValueError, TypeError, RecursionError):
        pass
    return found


def _cut(value: Any) -> Any:
    """`value` with each list and object cut to its first `_ITEMS` items, and to `_NODES`
    lists, objects and values in all (breadth first): a few problems to show, cheaply."""
    root: list[Any] = [None]
    queue: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    for item, target, key in queue:  # grows as it goes: breadth first
        if type(item) is dict:
            out: dict[str, Any] = {}
            for name, child in list(item.items())[:_ITEMS]:
                if len(queue) < _NODES:
                    queue.append((child, out, name))
            target[key] = out
        elif type(item) is list:
            items: list[Any] = []
            for child in item[:_ITEMS]:
                if len(queue) < _NODES:
                    items.append(None)
                    queue.append((child, items, len(items) - 1))
            target[key] = items
        else:
            target[key] = item
    return root[0]


def describe_error(err: Any) -> str:
    """One of pydantic's errors as a line for the program or the model."""
    loc = err.get("loc", ())
    arg = str(loc[0]) if loc else ""
    path = arg + "".join(f"[{part!r}]" for part in loc[1:])
    if err["type"] == "missing" and len(loc) == 1:
        return f"missing required argument {arg!r}"
    if err["type"] == "extra_forbidden" and len(loc) == 1:
        return f"unexpected argument {arg!r}"
    if err["type"] == "json_invalid" and "hex escape" in err["msg"]:
        # A str with a lone surrogate ("\ud800"), which JSON text carries as an escape
        # but no tool can take as text: say so, not "invalid JSON".
        return (
            "a string in the arguments holds a lone surrogate (an unpaired \\ud800-"
            f"\\udfff character), which is not valid text; send valid Unicode ({err['msg']})"
        )
    if err["type"] == "json_invalid" and "recursion limit" in err["msg"]:
        return ARGUMENTS_TOO_DEEP  # pydantic's parser: the same limit
    if err["type"] == "json_invalid":
        return f"arguments are not valid JSON ({err['msg']})"
    if err["type"] == "model_type" and not loc:
        return "arguments must be given as keyword arguments"
    got = repr(err.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"argument {path!r}: {err['msg']} (got {got})"
