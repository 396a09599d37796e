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
    values              pickled, one stream per group of names: a name alone, or names whose
                        values share an object (so that two names for one object stay one
                        object); instances of the program's classes refer to them by name

Anything else (an open file, a generator, a lambda, a function defined inside a block) is left
out, named in the report with the reason; the program is not failed for it.

Format of the bytes (this module's alone; the host only stores them)::

    MAGIC, 4-byte big-endian length, header JSON, the groups' pickle streams one after another
    header: {"format", "python", "modules": [[name, module]], "refs": [[name, module, path]],
             "defs": [[name, source, flags, reads]], "groups": [[[name, ...], length], ...]}

Restored in that order: modules and imported names first (definitions use them), then the
definitions, then the values (which may be instances of the program's classes), then any
definition that needed a value.

Values are restored lazily: before the program runs, only the groups that hold a name the
program reads (or deletes), or that a carried definition reads, are unpickled. Every other
group stays as its pickled bytes and goes, unchanged, into the next state, unless the program
reaches for it in a way a name does not show: ``globals()``, ``locals()``, ``vars()``,
``dir()``, ``eval`` or ``exec`` called from the program, or ``__main__``'s attributes and
``__dict__`` (then it is unpickled first). A value the program reads is pickled again at the
end, since it may have changed.

The host may keep the bytes and hand over only what restore asks for (`restore`'s ``fetch``):
the groups are laid out smallest first, so the request's first bytes hold the header and the
small values. `finish` then returns only the new bytes and a ``splice`` of spans of the old
state for the groups that passed through, which never cross the boundary.

Standard library only: this runs on every backend's guest interpreter (CPython 3.10+).
"""

from __future__ import annotations
import __future__

import ast
import builtins
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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Carried", "finish", "restore"]

FORMAT = 2
MAGIC = b"codeact-state\n"
_LENGTH = struct.Struct(">I")
_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
_PROTOCOL = 5
_MAX_REASON = 300
_ANNOTATIONS = __future__.annotations.compiler_flag


class Carried:
    """What `restore` brought into this call: the definitions it ran again (so that `finish`
    can keep them), the objects they made, the names it could not bring back, and the groups
    of values it left as bytes (`Pending`)."""

    def __init__(self) -> None:
        # name -> (source, compiler flags, names it reads), in order
        self.defs: dict[str, tuple[str, int, list[str]]] = {}
        self.objects: dict[str, Any] = {}  # name -> what running its definition made
        self.dropped: list[list[str]] = []  # [name, why]
        self.pending: Pending | None = None
        self.tree: ast.Module | None = None  # the program, parsed once for restore and save
        self.ms = 0.0


# -- restore -----------------------------------------------------------------------------
Read = Callable[[int, int], Any]  # (offset, length) -> those bytes of the state


def restore(
    namespace: dict[str, Any],
    data: bytes | None,
    *,
    code: str | None = None,
    filename: str = "<code>",
    fetch: Read | None = None,
    size: int = 0,
) -> Carried:
    """Bring a saved state into `namespace`: the bytes the host handed over, or (`fetch`)
    a state of `size` bytes the host keeps and hands over piece by piece, as asked: then
    the values the program never reads never enter the sandbox at all. With the program's
    `code`, only the values it (or a carried definition) reads are unpickled; the others
    wait (see the module's docstring). Without it, every value is."""
    started = time.perf_counter()
    carried = Carried()
    if code is not None:
        try:
            carried.tree = ast.parse(code, filename)
        except SyntaxError:
            pass  # the program fails anyway, and its state is not kept
    read: Read | None = None
    if data or (fetch is not None and size > 0):
        read, size = _reader(data or b"", fetch, size)
        try:
            header, at = _split(read, size)
        except (ValueError, OSError) as exc:
            carried.dropped.append(["*", f"the saved state could not be read: {exc}"])
        else:
            with _no_gc():
                _restore(namespace, header, read, at, carried, lazy=code is not None)
    carried.ms = (time.perf_counter() - started) * 1000
    return carried


def _reader(data: bytes, fetch: Read | None, size: int) -> tuple[Read, int]:
    """Reads of a state of which `data` is the start (all of it without `fetch`)."""
    view = memoryview(data)
    if fetch is None or size <= len(data):
        return (lambda offset, length: view[offset : offset + length]), len(data)

    def read(offset: int, length: int) -> Any:
        if offset + length <= len(view):
            return view[offset : offset + length]
        return fetch(offset, length)

    return read, size


def _split(read: Read, total: int) -> tuple[dict[str, Any], int]:
    """The header, and where the groups' bytes start."""
    start = len(MAGIC) + _LENGTH.size
    if total < start:
        raise ValueError("it is cut short")
    head = bytes(read(0, start))
    if not head.startswith(MAGIC):
        raise ValueError("it is not a codeact state")
    (size,) = _LENGTH.unpack_from(head, len(MAGIC))
    if start + size > total:
        raise ValueError("it is cut short")
    header = json.loads(bytes(read(start, size)))
    if not isinstance(header, dict):
        raise ValueError("its header is not an object")
    return header, start + size


def _restore(
    namespace: dict[str, Any],
    header: dict[str, Any],
    read: Read,
    at: int,
    c: Carried,
    *,
    lazy: bool,
) -> None:
    groups = header.get("groups", [])
    names = [entry[0] for key in ("modules", "refs", "defs") for entry in header.get(key, [])] + [
        name for group in groups for name in group[0]
    ]
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
    pending = c.pending = Pending(namespace, c, read)
    for group_names, length in groups:
        pending.add(list(group_names), at, length)
        at += length
    waiting = []
    for name, source, flags, reads in header["defs"]:
        if not _define(namespace, name, source, flags, reads, c):
            waiting.append((name, source, flags, reads))
    if lazy:  # what the program, or a definition it may call, reads by name
        wanted = set(reads_of(c.tree)) if c.tree is not None else set()
        for _name, _source, _flags, reads in header["defs"]:
            wanted.update(reads)
        wanted.update(name for name in pending.by_name if name in namespace)  # a tool's name
        pending.load(wanted)
    else:
        pending.load_all()
    for name, source, flags, reads in waiting:  # definitions that need a value (a default, a base)
        try:
            _define(namespace, name, source, flags, reads, c, last_try=True)
        except BaseException as exc:
            c.dropped.append([name, _reason("its definition failed when it was run again", exc)])
    pending.install()


def _define(
    namespace: dict[str, Any],
    name: str,
    source: str,
    flags: int,
    reads: list[str],
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
    c.defs[name] = (source, flags, reads)
    c.objects[name] = namespace.get(name)
    return True


# -- values left as bytes ----------------------------------------------------------------
_REACHING = ("globals", "locals", "vars", "dir", "eval", "exec")
_BUILTIN: dict[str, Any] = {name: getattr(builtins, name) for name in _REACHING}
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]
_current: Pending | None = None  # one run per sandbox: the groups of this run


class Pending:
    """The groups of values of a state that are not unpickled yet: their bytes, by name.

    While any waits, the ways a program can reach a name without naming it (`_REACHING`
    called from the program, ``__main__``'s attributes and ``__dict__``) unpickle first."""

    def __init__(self, namespace: dict[str, Any], carried: Carried, read: Read) -> None:
        self.namespace = namespace
        self.carried = carried
        self.read = read
        # index -> (names, where their pickles are in the state the host sent, how long)
        self.groups: dict[int, tuple[list[str], int, int]] = {}
        self.by_name: dict[str, int] = {}
        self.restoring = True  # until `install`: the program has bound nothing yet

    def add(self, names: list[str], offset: int, length: int) -> None:
        index = len(self.groups) + len(self.by_name)  # unique: both only grow here
        self.groups[index] = (names, offset, length)
        for name in names:
            self.by_name[name] = index

    def load(self, names: Iterable[str]) -> None:
        """Unpickle the groups that hold any of `names` (a group comes back whole)."""
        for index in sorted({self.by_name[n] for n in names if n in self.by_name}):
            self._load(index)
        if not self.groups:
            self.uninstall()

    def load_all(self) -> None:
        for index in list(self.groups):
            self._load(index)
        self.uninstall()

    def _load(self, index: int) -> None:
        names, offset, length = self.groups.pop(index)
        for name in names:
            self.by_name.pop(name, None)
        started = time.perf_counter()
        with _no_gc():
            unpickler: Any = None
            for at, name in enumerate(names):
                try:
                    if unpickler is None:
                        unpickler = pickle.Unpickler(io.BytesIO(self.read(offset, length)))
                    value = unpickler.load()
                except BaseException as exc:
                    why = _reason("it could not be restored", exc)
                    self.carried.dropped.append([name, why])
                    after = f"it was saved with {name}, which failed"
                    self.carried.dropped += [[n, after] for n in names[at + 1 :]]
                    break
                if self.restoring or name not in self.namespace:  # not bound anew since
                    self.namespace[name] = value
        self.carried.ms += (time.perf_counter() - started) * 1000

    def install(self) -> None:
        global _current
        self.restoring = False
        if not self.groups:
            return
        _current = self
        for name, hook in _HOOKS.items():
            setattr(builtins, name, hook)
        main = sys.modules.get("__main__")
        if type(main) is types.ModuleType and _MODULE_DICT.__get__(main) is self.namespace:
            main.__class__ = _LazyMain

    def uninstall(self) -> None:
        global _current
        if _current is not self:
            return
        _current = None
        for name, hook in _HOOKS.items():
            if getattr(builtins, name, None) is hook:  # unless the program replaced it
                setattr(builtins, name, _BUILTIN[name])
        main = sys.modules.get("__main__")
        if main is not None and type(main) is _LazyMain:
            main.__class__ = types.ModuleType  # type: ignore[assignment]


def _touch(frame: Any) -> None:
    """Unpickle every waiting value if `frame` runs in the program's globals."""
    if _current is not None and frame.f_globals is _current.namespace:
        _current.load_all()


def _locals_of(frame: Any) -> Any:
    found = frame.f_locals  # a function's is a live view since Python 3.13: copy it
    return dict(found) if type(found).__name__ == "FrameLocalsProxy" else found


def _globals() -> dict[str, Any]:
    frame = sys._getframe(1)
    _touch(frame)
    return frame.f_globals


def _locals() -> Any:
    frame = sys._getframe(1)
    _touch(frame)
    return _locals_of(frame)


def _vars(*args: Any) -> Any:
    if args:
        return _BUILTIN["vars"](*args)  # __main__'s own __dict__ unpickles (_LazyMain)
    frame = sys._getframe(1)
    _touch(frame)
    return _locals_of(frame)


def _dir(*args: Any) -> list[str]:
    if args:
        return _BUILTIN["dir"](*args)  # type: ignore[no-any-return]
    frame = sys._getframe(1)
    _touch(frame)
    return sorted(_locals_of(frame))


def _evaluator(name: str) -> Any:
    original = _BUILTIN[name]

    def run(source: Any, *args: Any, **kwargs: Any) -> Any:
        scope = args[0] if args else kwargs.pop("globals", None)
        local = args[1] if len(args) > 1 else kwargs.pop("locals", None)
        if scope is None:  # the caller's, as the builtin takes them (it would take ours)
            frame = sys._getframe(1)
            _touch(frame)
            scope = frame.f_globals
            local = _locals_of(frame) if local is None else local
        return original(source, scope, local, *args[2:], **kwargs)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = original.__doc__
    return run


_HOOKS: dict[str, Any] = {
    "globals": _globals,
    "locals": _locals,
    "vars": _vars,
    "dir": _dir,
    "eval": _evaluator("eval"),
    "exec": _evaluator("exec"),
}
for _name, _hook in _HOOKS.items():
    if _name in ("globals", "locals", "vars", "dir"):
        _hook.__name__ = _hook.__qualname__ = _name
        _hook.__doc__ = _BUILTIN[_name].__doc__


class _LazyMain(types.ModuleType):
    """``__main__`` while values wait: reading one of them as an attribute, or the whole
    ``__dict__`` (``vars(__main__)``, ``typing.get_type_hints``), unpickles it first."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        pending = _current
        if pending is not None and name in pending.by_name:
            pending.load([name])
            if name in pending.namespace:
                return pending.namespace[name]
        raise AttributeError(f"module '__main__' has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        if _current is not None:
            _current.load_all()
        return sorted(_MODULE_DICT.__get__(self))

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        if _current is not None:
            _current.load_all()
        return _MODULE_DICT.__get__(self)  # type: ignore[no-any-return]


def reads_of(node: ast.AST) -> Iterator[str]:
    """The names `node` reads or deletes (an augmented assignment reads its target)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            if not isinstance(sub.ctx, ast.Store):
                yield sub.id
        elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
            yield sub.target.id


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
    report: dict[str, Any] = {}
    if succeeded:
        started = time.perf_counter()
        with _no_gc():
            parts, names, dropped = _save(namespace, baseline, code, filename, carried)
            size = sum(part[1] if isinstance(part, tuple) else len(part) for part in parts)
            if size <= limit:
                report.update(_spliced(parts))
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
    spans: dict[str, tuple[int, int]] = {}
    tree = c.tree if c.tree is not None else _parse(code, filename)
    for name, source, flags, reads, span in _top_level_defs(tree, code):
        defs.pop(name, None)  # a definition made again moves to the end: it may use later ones
        defs[name] = (source, flags, reads)
        spans[name] = span
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
        groups, failed = _pickle(values)
    dropped += failed
    passed: list[tuple[list[str], tuple[int, int]]] = []
    if pending is not None:  # the values the program never reached, as they came
        passed = [(names, (at, length)) for names, at, length in pending.groups.values()]
    kept_defs: list[list[Any]] = [[name, *defs[name]] for name in defs if name in live]
    # Smallest first: the start of a state goes with the next request (the rest is asked
    # for), so the small values a program reads most often take no call.
    layout: list[tuple[list[str], Any]] = sorted(
        [*groups, *passed], key=lambda g: g[1][1] if isinstance(g[1], tuple) else len(g[1])
    )
    header = {
        "format": FORMAT,
        "python": _PYTHON,
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
    head = MAGIC + _LENGTH.pack(len(encoded)) + encoded
    return [head, *(part for _, part in layout)], names, dropped


def _spliced(parts: list[Any]) -> dict[str, Any]:
    """The report's ``state``: the new bytes; and, when some groups pass through, its
    ``splice``: how the host puts the state together from them and from the bytes it sent
    (``[0, n]``: the next n new bytes; ``[1, offset, n]``: n bytes of the sent state), so
    that what the program never touched does not cross the boundary back."""
    if not any(isinstance(part, tuple) for part in parts):
        return {"state": b"".join(parts)}
    splice: list[list[int]] = []
    for part in parts:
        if isinstance(part, tuple):
            splice.append([1, *part])
        elif splice and splice[-1][0] == 0:
            splice[-1][1] += len(part)
        else:
            splice.append([0, len(part)])
    return {"state": b"".join(p for p in parts if not isinstance(p, tuple)), "splice": splice}


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


def _parse(code: str, filename: str) -> ast.Module | None:
    try:
        return ast.parse(code, filename)
    except SyntaxError:
        return None


def _top_level_defs(
    tree: ast.Module | None, code: str
) -> Iterator[tuple[str, str, int, list[str], tuple[int, int]]]:
    """(name, source, flags, names it reads, (first line, last line)) of each top-level def
    and class."""
    if tree is None:
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
            source = "".join(lines[first - 1 : last])
            yield node.name, source, flags, sorted(set(reads_of(node))), (first, last)


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
            why = _reason("the values could not be saved together", exc)
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
