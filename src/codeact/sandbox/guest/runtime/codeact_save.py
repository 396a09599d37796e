"""A session's state, inside the sandbox: saving what a program left behind.

`finish` runs after a call's program finished: it turns the program's top-level names into the
bytes `codeact_state.restore` reads in the next call (the format is described there). Values
that waited as bytes through the whole call (`codeact_lazy.Pending`) are not pickled again:
they pass into the new state as spans of the old one (a ``splice``), so the host copies them
without either side reading them. What cannot be kept is named with the reason.

Standard library only: this runs on every backend's guest interpreter (CPython 3.10+).
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import sys
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from codeact_defs import definition_problem, imported, made_by_program, parse, top_level_defs
from codeact_lazy import no_gc, reason
from codeact_state import FORMAT, LENGTH, MAGIC, PYTHON, Carried

__all__ = ["finish"]

_PROTOCOL = 5


def finish(
    namespace: dict[str, Any],
    baseline: dict[str, Any],
    *,
    code: str,
    filename: str,
    carried: Carried,
    limit: int,
    succeeded: bool,
    pieces: int = 100_000,
) -> dict[str, Any]:
    """The session part of the run's report: the new state (bytes, under ``"state"``; the
    runner encodes them) if the program succeeded and it fits in `limit` bytes, the names
    kept and the names dropped with the reason. A splice has at most `pieces` pieces (what
    the host takes, as its request says): past that, the whole state is sent."""
    report: dict[str, Any] = {}
    if succeeded:
        started = time.perf_counter()
        with no_gc():
            parts, names, dropped = _save(namespace, baseline, code, filename, carried)
            size = sum(part[1] if isinstance(part, tuple) else len(part) for part in parts)
            if size <= limit:
                read = carried.pending.read if carried.pending is not None else None
                report.update(_spliced(parts, pieces, read))
            else:
                report["over"] = size
        report["save_ms"] = (time.perf_counter() - started) * 1000
        report["names"] = names
        report["dropped"] = dropped
        report["size"] = size
    elif carried.pending is not None:
        carried.pending.uninstall()
    report["restore_ms"] = carried.ms  # with what was unpickled while the program ran
    if carried.dropped:
        report["restore_dropped"] = carried.dropped
    return report


def _save(
    namespace: dict[str, Any], baseline: dict[str, Any], code: str, filename: str, c: Carried
) -> tuple[list[Any], list[str], list[list[str]]]:
    """The new state as parts: bytes made here, and (offset, length) spans of the state the
    host sent (the groups that pass through); the names kept; the names dropped."""
    defs = dict(c.defs)
    inert = set(c.inert)
    spans: dict[str, tuple[int, int]] = {}
    tree = c.tree if c.tree is not None else parse(code, filename)
    for name, source, flags, reads, span, quiet in top_level_defs(tree, code):
        defs.pop(name, None)  # a definition made again moves to the end: it may use later ones
        defs[name] = (source, flags, reads)
        spans[name] = span
        (inert.add if quiet else inert.discard)(name)
    pending = c.pending
    if pending is not None:
        # A group one of whose names the program bound anew is unpickled: its other values
        # are pickled again below, with the program's new ones.
        pending.load([name for name in pending.by_name if name in namespace])
        pending.uninstall()
    modules: list[list[str]] = []
    refs: list[list[str]] = []
    live: dict[str, Any] = {}
    values: dict[str, Any] = {}
    dropped: list[list[str]] = []
    for name, value in list(namespace.items()):
        if not isinstance(name, str) or (name.startswith("__") and name.endswith("__")):
            continue
        if name in baseline and baseline[name] is value:
            continue  # a tool or a built-in helper: every call gets its own
        try:
            if isinstance(value, types.ModuleType):
                modules.append([name, value.__name__])
            elif (ref := imported(value)) is not None:
                refs.append([name, *ref])
            elif made_by_program(value, name):
                why = definition_problem(value, name, spans, c, filename)
                if why:
                    dropped.append([name, why])
                else:
                    live[name] = value
            else:
                values[name] = value
        except BaseException as exc:
            dropped.append([name, reason("it could not be inspected", exc)])
    shadow = types.ModuleType("__main__")  # only what restore can define again
    shadow.__dict__.update(live)
    with _main_module(shadow):
        groups, failed = _pickle(values)
    dropped += failed
    passed: list[tuple[list[str], tuple[int, int]]] = []
    if pending is not None:  # the values the program never reached, as they came
        passed = [(names, (at, length)) for names, at, length in pending.groups.values()]
    with _main_module(shadow):
        kept_defs: list[list[Any]] = [
            [name, *defs[name], _attributes(live[name]), name in inert]
            for name in defs
            if name in live
        ]
    # Smallest first: the start of a state goes with the next request (the rest is asked
    # for), so the small values a program reads most often take no call.
    layout: list[tuple[list[str], Any]] = sorted(
        [*groups, *passed], key=lambda g: g[1][1] if isinstance(g[1], tuple) else len(g[1])
    )
    header = {
        "format": FORMAT,
        "python": PYTHON,
        "modules": modules,
        "refs": refs,
        "defs": kept_defs,
        "groups": [
            [names, part[1] if isinstance(part, tuple) else len(part)] for names, part in layout
        ],
    }
    encoded = json.dumps(header).encode("utf-8")
    names = [str(entry[0]) for entry in (*modules, *refs, *kept_defs)]
    names += [name for group, _ in (*groups, *passed) for name in group]
    head = MAGIC + LENGTH.pack(len(encoded)) + encoded
    return [head, *(part for _, part in layout)], names, dropped


def _spliced(parts: list[Any], pieces: int, read: Any) -> dict[str, Any]:
    """The report's ``state``: the new bytes; and, when some groups pass through, its
    ``splice``: how the host puts the state together from them and from the bytes it sent
    (``[0, n]``: the next n new bytes; ``[1, offset, n]``: n bytes of the sent state), so
    that what the program never touched does not cross the boundary back. Neighbours merge
    (spans that follow each other in the sent state are one piece); a splice of more than
    `pieces` pieces all the same is not sent: the state goes whole (`read` gets the spans)."""
    if not any(isinstance(part, tuple) for part in parts):
        return {"state": b"".join(parts)}
    splice: list[list[int]] = []
    for part in parts:
        last = splice[-1] if splice else None
        if isinstance(part, tuple):
            if last is not None and last[0] == 1 and last[1] + last[2] == part[0]:
                last[2] += part[1]
            else:
                splice.append([1, *part])
        elif last is not None and last[0] == 0:
            last[1] += len(part)
        else:
            splice.append([0, len(part)])
    if len(splice) > pieces and read is not None:
        spans = [part for part in parts if isinstance(part, tuple)]
        start = min(at for at, _ in spans)
        sent = memoryview(bytes(read(start, max(at + n for at, n in spans) - start)))
        whole = [
            sent[part[0] - start : part[0] - start + part[1]] if isinstance(part, tuple) else part
            for part in parts
        ]
        return {"state": b"".join(whole)}
    return {"state": b"".join(p for p in parts if not isinstance(p, tuple)), "splice": splice}


def _attributes(value: Any) -> str:
    """The data attributes a function or class holds (``Counter.count``, ``f.calls``), those
    set after its definition included, pickled (base64): restore sets them again. Methods,
    descriptors and classes are the definition's own; an attribute pickle cannot save
    comes back as the definition makes it."""
    try:
        kept = {
            attribute: member
            for attribute, member in vars(value).items()
            if not attribute.startswith("__")
            and not isinstance(member, (type, types.ModuleType))
            and not hasattr(type(member), "__get__")
        }
        if not kept:
            return ""
        try:
            data = pickle.dumps(kept, protocol=_PROTOCOL)
        except BaseException:  # keep those that can be saved
            kept = {a: m for a, m in kept.items() if _picklable(m)}
            data = pickle.dumps(kept, protocol=_PROTOCOL)
        return base64.b64encode(data).decode("ascii") if kept else ""
    except BaseException:
        return ""


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value, protocol=_PROTOCOL)
    except BaseException:
        return False
    return True


#: Objects whose sharing between two names does not matter: nothing can change them.
_ATOMS = frozenset(
    {str, bytes, int, float, complex, bool, type(None), tuple, frozenset, range, type}
    | {types.FunctionType, types.BuiltinFunctionType, types.ModuleType}
)


def _pickle(
    values: dict[str, Any],
) -> tuple[list[tuple[list[str], bytes | memoryview]], list[list[str]]]:
    """Each value pickled alone, so that the next call can restore it alone; values that
    share an object (two names for one list) are pickled together instead, in one stream,
    so that they stay shared. A value that cannot be pickled is left out with the reason."""
    done: list[tuple[str, bytes, Any]] = []  # name, its pickle, its pickler's memo
    failed: list[list[str]] = []
    for name, value in values.items():
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=_PROTOCOL)
        try:
            pickler.dump(value)
        except BaseException as exc:
            failed.append([name, _why_not(value, exc)])
            continue
        done.append((name, out.getvalue(), pickler.memo))  # the memo keeps its objects alive
    groups: list[tuple[list[str], bytes | memoryview]] = []
    for members in _sharing(done):
        names = [done[i][0] for i in members]
        if len(members) == 1:
            groups.append((names, done[members[0]][1]))
            continue
        try:
            groups.append((names, _dump([values[name] for name in names])))
        except BaseException as exc:  # e.g. a value that fails only the second time
            why = reason("the values could not be saved together", exc)
            failed += [[name, why] for name in names]
    return groups, failed


def _sharing(done: list[tuple[str, bytes, Any]]) -> list[list[int]]:
    """The values (by index) in groups: values whose picklings met one object share it.
    The memo of the largest pickle is copied only if another value holds an object at all."""
    parent = list(range(len(done)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(done) > 1:
        largest = max(range(len(done)), key=lambda i: len(done[i][1]))
        seen: dict[int, int] = {}  # id of an object -> the first value that holds it
        for i, (_, _, memo) in enumerate(done):
            if i == largest:
                continue
            for key, (_, obj) in memo.copy().items():
                if type(obj) not in _ATOMS:
                    parent[root(i)] = root(seen.setdefault(key, i))
        if seen:
            ids = done[largest][2].copy()
            for key, i in seen.items():
                if key in ids and type(ids[key][1]) not in _ATOMS:
                    parent[root(i)] = root(largest)
    groups: dict[int, list[int]] = {}
    for i in range(len(done)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _dump(values: list[Any]) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=_PROTOCOL)
    for value in values:
        pickler.dump(value)
    return out.getvalue()


@contextmanager
def _main_module(module: types.ModuleType) -> Iterator[None]:
    """Pickle looks classes and functions up as ``__main__.NAME``: let it see `module`."""
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = saved


def _why_not(value: Any, exc: BaseException) -> str:
    if isinstance(value, io.IOBase):
        return "an open file or stream cannot be kept; keep its path or its contents"
    if isinstance(value, (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)):
        return "a generator or coroutine cannot be kept; keep a list of what it yields"
    if isinstance(value, types.FunctionType):
        if value.__name__ == "<lambda>":
            return "a lambda cannot be kept; define the function with def at the top level"
        if "<locals>" in value.__qualname__:
            return "a function defined inside another function cannot be kept"
    if getattr(value, "_codeact_tool", None):
        return "it is a tool; call the tool by its own name in the next program"
    why: str = reason(f"a {type(value).__name__} cannot be saved", exc)
    return why
