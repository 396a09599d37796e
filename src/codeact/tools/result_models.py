"""A pydantic model in a tool's result, looked at before its own ``model_dump`` makes its JSON
(`codeact.tools.results`).

``model_dump`` runs in C and cannot be stopped: it is called only on a model walked first
(`walk_model`), without recursion, with its parts counted against the conversion's
`max_bytes` (a part shared counts again, as its JSON is written again), its deadline and its
`stop` looked at as it goes, and each container it holds entered in the conversion's
`above`: a model that holds itself (``Node(children=[self])``) is said so at once, naming
the place (``result.children[0] is result``), never walked around for ever. Excluded fields
and fields with a serializer of their own are not walked (their JSON is not the value's: a
parent link excluded is no loop). An iterator found inside is read first (`materialized`),
as far as `max_bytes` allows, or ``model_dump`` would drain it whole.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from .result_limits import ResultTooLargeError, _Budget

__all__ = ["materialized", "walk_model"]

_PLAIN = frozenset((str, int, float, bool, type(None)))
_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))
_TICK = 64  # parts walked between two looks at the deadline


def _fields(model: BaseModel) -> list[tuple[str, Any]]:
    """The fields (and extras) of `model` its dump writes as they are: ``(name, value)``."""
    cls = type(model)
    decorators = cls.__pydantic_decorators__
    if decorators.model_serializers:  # its own serializer makes its JSON
        return []
    custom = {name for d in decorators.field_serializers.values() for name in d.info.fields}
    if "*" in custom:
        return []
    fields = [
        (name, getattr(model, name, None))
        for name, info in cls.model_fields.items()
        if not info.exclude and name not in custom
    ]
    fields.extend((model.__pydantic_extra__ or {}).items())
    return fields


def _children(item: Any) -> list[tuple[str, Any]] | None:
    """The parts of a container (``(path suffix, part)``), or None for anything else."""
    if isinstance(item, BaseModel):
        return [(f".{name}", value) for name, value in _fields(item)]
    if isinstance(item, dict):
        return [(f"[{key!r}]", value) for key, value in item.items()]
    if isinstance(item, (list, tuple, collections.deque)) or type(item) in _VIEWS:
        return [(f"[{i}]", value) for i, value in enumerate(item)]
    if isinstance(item, (set, frozenset)):
        return [("[*]", value) for value in item]
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        names = [field.name for field in dataclasses.fields(item)]
        return [(f".{name}", getattr(item, name, None)) for name in names]
    return None


def walk_model(model: BaseModel, where: str, budget: _Budget) -> bool:
    """Walk `model` (entered in `budget.above` by its caller, at `where`): `_Loop` if it holds
    a container it is inside, `ResultTooLargeError` once its parts are more than what is left
    of `max_bytes`, `ResultConversionTimeout` past the deadline. Returns whether an iterator
    is among its parts."""
    lazy = False
    size, room, walked = 0, max(budget.left, 0), 0
    entered: list[int] = []  # the containers above the part walked now, below `model`
    stack: list[tuple[Any, str, int]] = [
        (part, where + at, 1) for at, part in reversed(_children(model) or [])
    ]
    while stack:
        item, path, level = stack.pop()
        while len(entered) >= level:  # the containers at its level or below are done
            budget.leave(entered.pop())
        walked += 1
        if walked % _TICK == 0:
            budget.tick()
        kind = type(item)
        if kind in _PLAIN:
            size += len(item) + 2 if kind is str else 1
            continue
        parts = _children(item)
        if parts is None:
            lazy = lazy or isinstance(item, Iterator)
            size += 1
            continue
        entered.append(budget.enter(item, path))
        size += 2 + len(parts)
        if size > room:
            raise ResultTooLargeError(budget.limit)
        stack.extend((part, path + at, level + 1) for at, part in reversed(parts))
    while entered:
        budget.leave(entered.pop())
    return lazy


def materialized(value: Any, left: list[int], budget: _Budget) -> Any:
    """`value` (walked by `walk_model`: no loop in it) with every iterator in it read, at most
    ``left[0]`` items in all (each takes 2 bytes of JSON or more: past that the result is too
    large, and the iterator is consumed no further); a model is copied with its fields
    replaced, so that its own dump (serializers, excluded fields, secrets) still makes its
    JSON."""
    budget.tick()
    if isinstance(value, BaseModel):
        fields = dict(_fields(value))
        made = {name: materialized(v, left, budget) for name, v in fields.items()}
        changed = {name: m for name, m in made.items() if m is not fields[name]}
        return value.model_copy(update=changed) if changed else value
    if isinstance(value, dict):
        items = {k: materialized(v, left, budget) for k, v in value.items()}
        return items if any(items[k] is not value[k] for k in value) else value
    if isinstance(value, (list, tuple, collections.deque)):
        listed = [materialized(v, left, budget) for v in value]
        return listed if any(m is not v for m, v in zip(listed, value, strict=True)) else value
    if isinstance(value, Iterator):
        taken = list(itertools.islice(value, left[0] + 1))
        if len(taken) > left[0]:
            raise ResultTooLargeError(budget.limit)
        left[0] -= len(taken)
        read = [materialized(v, left, budget) for v in taken]
        return (v for v in read)  # still a generator, as the model's serializer expects
    return value
