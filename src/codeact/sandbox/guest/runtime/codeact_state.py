"""A session's state, inside the sandbox: what a program left behind, saved and restored.

A session keeps state, not sandboxes: every call runs in a fresh sandbox, and this module
carries the program's top-level names from one call to the next. At the end of a call that
finished, `save` turns the program's globals into bytes; before the next call's program runs,
`restore` turns those bytes back into globals. Both run here, in the sandbox. The host keeps
the bytes and never reads them: to it they are opaque (the host has no unpickler on this path;
unpickling on the host is the remote-code-execution hole CVE-2025-14931 in smolagents).

What is carried, and how:

    imported modules    by name (``import math as m`` -> m = import_module("math"))
    imported names      by reference, when importing finds the same object
                        (``from math import sqrt`` -> sqrt = math.sqrt)
    functions, classes  by their source: each top-level ``def``/``class`` statement of a
                        program is remembered and run again on restore, decorators included
    values              pickled, in one stream, so that two names for one object stay one
                        object; instances of the program's classes refer to them by name

Anything else (an open file, a generator, a lambda, a function defined inside a block) is left
out, named in the report with the reason; the program is not failed for it.

Format of the bytes (this module's alone; the host only stores them)::

    MAGIC, 4-byte big-endian length, header JSON, pickle stream (one pickle per value)
    header: {"format", "python", "modules": [[name, module]], "refs": [[name, module, path]],
             "defs": [[name, source, flags]], "values": [name, ...]}

Restored in that order: modules and imported names first (definitions use them), then the
definitions, then the values (which may be instances of the program's classes), then any
definition that needed a value.

Standard library only: this runs on every backend's guest interpreter (CPython 3.10+).
"""

from __future__ import annotations
import __future__

import ast
import gc
import importlib
import io
import json
import linecache
import pickle
import struct
import sys
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Carried", "finish", "restore"]

FORMAT = 1
MAGIC = b"codeact-state\n"
_LENGTH = struct.Struct(">I")
_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
_PROTOCOL = 5
_MAX_REASON = 300
_ANNOTATIONS = __future__.annotations.compiler_flag


class Carried:
    """What `restore` brought into this call: the definitions it ran again (so that `finish`
    can keep them), the objects they made, and the names it could not bring back."""

    def __init__(self) -> None:
        self.defs: dict[str, tuple[str, int]] = {}  # name -> (source, compiler flags), in order
        self.objects: dict[str, Any] = {}  # name -> what running its definition made
        self.dropped: list[list[str]] = []  # [name, why]
        self.ms = 0.0


# -- restore -----------------------------------------------------------------------------
def restore(namespace: dict[str, Any], data: bytes | None) -> Carried:
    """Bring a saved state (the bytes the host handed over) into `namespace`."""
    started = time.perf_counter()
    carried = Carried()
    if data:
        try:
            header, body = _split(data)
        except ValueError as exc:
            carried.dropped.append(["*", f"the saved state could not be read: {exc}"])
        else:
            with _no_gc():
                _restore(namespace, header, body, carried)
    carried.ms = (time.perf_counter() - started) * 1000
    return carried


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    if not data.startswith(MAGIC):
        raise ValueError("it is not a codeact state")
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start:
        raise ValueError("it is cut short")
    (size,) = _LENGTH.unpack_from(data, len(MAGIC))
    header = json.loads(data[start : start + size])
    if not isinstance(header, dict):
        raise ValueError("its header is not an object")
    return header, data[start + size :]


def _restore(namespace: dict[str, Any], header: dict[str, Any], body: bytes, c: Carried) -> None:
    names = [
        entry[0] for key in ("modules", "refs", "defs") for entry in header.get(key, [])
    ] + list(header.get("values", []))
    if header.get("format") != FORMAT or header.get("python") != _PYTHON:
        why = (
            f"the state was saved in format {header.get('format')} by Python "
            f"{header.get('python')}; this sandbox reads format {FORMAT} with Python {_PYTHON}"
        )
        c.dropped += [[str(name), why] for name in names]
        return
    for name, module in header["modules"]:
        try:
            namespace[name] = importlib.import_module(module)
        except BaseException as exc:
            c.dropped.append([name, _reason(f"import {module} failed", exc)])
    for name, module, path in header["refs"]:
        try:
            target: Any = importlib.import_module(module)
            for part in path.split("."):
                target = getattr(target, part)
            namespace[name] = target
        except BaseException as exc:
            c.dropped.append([name, _reason(f"{module}.{path} could not be imported", exc)])
    waiting = []
    for name, source, flags in header["defs"]:
        if not _define(namespace, name, source, flags, c):
            waiting.append((name, source, flags))
    values = header["values"]
    unpickler = pickle.Unpickler(io.BytesIO(body))
    for index, name in enumerate(values):
        try:
            namespace[name] = unpickler.load()
        except BaseException as exc:
            why = _reason("it could not be restored", exc)
            c.dropped.append([name, why])
            c.dropped += [[n, f"it came after {name}, which failed"] for n in values[index + 1 :]]
            break
    for name, source, flags in waiting:  # definitions that need a value (a default, a base)
        try:
            _define(namespace, name, source, flags, c, last_try=True)
        except BaseException as exc:
            c.dropped.append([name, _reason("its definition failed when it was run again", exc)])


def _define(
    namespace: dict[str, Any],
    name: str,
    source: str,
    flags: int,
    c: Carried,
    *,
    last_try: bool = False,
) -> bool:
    filename = f"<def {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        exec(compile(source, filename, "exec", flags=flags, dont_inherit=True), namespace)
    except Exception:
        if last_try:
            raise
        return False
    c.defs[name] = (source, flags)
    c.objects[name] = namespace.get(name)
    return True


# -- save --------------------------------------------------------------------------------
def finish(
    namespace: dict[str, Any],
    baseline: dict[str, Any],
    *,
    code: str,
    filename: str,
    carried: Carried,
    limit: int,
    succeeded: bool,
) -> dict[str, Any]:
    """The session part of the run's report: the new state (bytes, under ``"state"``; the
    runner encodes them) if the program succeeded and it fits in `limit` bytes, the names
    kept and the names dropped with the reason."""
    report: dict[str, Any] = {"restore_ms": carried.ms}
    if carried.dropped:
        report["restore_dropped"] = carried.dropped
    if not succeeded:
        return report
    started = time.perf_counter()
    with _no_gc():
        data, names, dropped = _save(namespace, baseline, code, filename, carried)
    report["save_ms"] = (time.perf_counter() - started) * 1000
    report["names"] = names
    report["dropped"] = dropped
    report["size"] = len(data)
    if len(data) > limit:
        report["over"] = len(data)
    else:
        report["state"] = data
    return report


def _save(
    namespace: dict[str, Any], baseline: dict[str, Any], code: str, filename: str, c: Carried
) -> tuple[bytes, list[str], list[list[str]]]:
    defs = dict(c.defs)
    spans: dict[str, tuple[int, int]] = {}
    for name, source, flags, span in _top_level_defs(code, filename):
        defs.pop(name, None)  # a definition made again moves to the end: it may use later ones
        defs[name] = (source, flags)
        spans[name] = span
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
            elif (ref := _imported(value)) is not None:
                refs.append([name, *ref])
            elif _made_by_program(value, name):
                why = _definition_problem(value, name, spans, c, filename)
                if why:
                    dropped.append([name, why])
                else:
                    live[name] = value
            else:
                values[name] = value
        except BaseException as exc:
            dropped.append([name, _reason("it could not be inspected", exc)])
    shadow = types.ModuleType("__main__")  # only what restore can define again
    shadow.__dict__.update(live)
    with _main_module(shadow):
        body, failed = _pickle(values)
    dropped += failed
    kept_defs: list[list[Any]] = [[name, *defs[name]] for name in defs if name in live]
    kept_values = [name for name in values if name not in dict(failed)]
    header = {
        "format": FORMAT,
        "python": _PYTHON,
        "modules": modules,
        "refs": refs,
        "defs": kept_defs,
        "values": kept_values,
    }
    encoded = json.dumps(header).encode("utf-8")
    names = [str(entry[0]) for entry in (*modules, *refs, *kept_defs)] + kept_values
    return MAGIC + _LENGTH.pack(len(encoded)) + encoded + body, names, dropped


def _imported(value: Any) -> tuple[str, str] | None:
    """(module, qualified name) of a class or function that importing finds again."""
    if not isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        return None
    module, path = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(path, str) or module == "__main__":
        return None
    target: Any = sys.modules.get(module)
    for part in path.split("."):
        target = getattr(target, part, None)
    return (module, path) if target is value else None


def _made_by_program(value: Any, name: str) -> bool:
    """A function or class the program defined under this name (not an alias, an instance)."""
    return (
        (isinstance(value, type) or callable(value))
        and getattr(value, "__module__", None) == "__main__"
        and getattr(value, "__qualname__", None) == name
    )


def _definition_problem(
    value: Any, name: str, spans: dict[str, tuple[int, int]], c: Carried, filename: str
) -> str:
    """Why the definition behind `value` cannot be run again ("" when it can)."""
    if name in spans:
        for _ in range(100):  # a decorator's wrapper (functools.wraps) points to the function
            if not hasattr(value, "__wrapped__"):
                break
            value = value.__wrapped__
        code = getattr(value, "__code__", None)
        first, last = spans[name]
        if code is None or code.co_filename != filename or first <= code.co_firstlineno <= last:
            return ""
    elif name in c.objects and c.objects[name] is value:
        return ""
    return (
        "it was defined inside a block (an if, a loop, a function); define it at the top "
        "level of a program to keep it"
    )


def _top_level_defs(code: str, filename: str) -> Iterator[tuple[str, str, int, tuple[int, int]]]:
    """(name, source, flags, (first line, last line)) of each top-level def and class."""
    try:
        tree = ast.parse(code, filename)
    except SyntaxError:
        return
    lines = code.splitlines(True)
    flags = 0
    for node in tree.body:
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if future and any(alias.name == "annotations" for alias in node.names):  # type: ignore[attr-defined]
            flags |= _ANNOTATIONS
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            last = node.end_lineno or node.lineno
            yield node.name, "".join(lines[first - 1 : last]), flags, (first, last)


def _pickle(values: dict[str, Any]) -> tuple[bytes, list[list[str]]]:
    """One pickle per value in one stream (a shared memo keeps shared objects shared); the
    values that cannot be pickled are left out, each with the reason."""
    try:
        return _dump(values), []
    except BaseException:
        pass
    failed: list[list[str]] = []
    for name, value in values.items():  # only when something failed: find what
        try:
            pickle.dumps(value, protocol=_PROTOCOL)
        except BaseException as exc:
            failed.append([name, _why_not(value, exc)])
    bad = {name for name, _ in failed}
    kept = {name: value for name, value in values.items() if name not in bad}
    try:
        return _dump(kept), failed
    except BaseException as exc:  # e.g. a value that fails only the second time
        why = _reason("the values could not be saved together", exc)
        return b"", failed + [[name, why] for name in kept]


def _dump(values: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=_PROTOCOL)
    for value in values.values():
        pickler.dump(value)
    return out.getvalue()


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic collector off while (un)pickling: making or walking many containers would
    start it again and again over the same objects, for nothing (none of them is garbage)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    return _reason(f"a {type(value).__name__} cannot be saved", exc)


def _reason(prefix: str, exc: BaseException) -> str:
    try:
        detail = f"{type(exc).__name__}: {exc}"
    except BaseException:
        detail = type(exc).__name__
    text = f"{prefix} ({detail})"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
