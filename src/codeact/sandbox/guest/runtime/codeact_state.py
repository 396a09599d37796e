"""A session's state, inside the sandbox: what a program left behind, saved and restored.

A session keeps state, not sandboxes: every call runs in a fresh sandbox, and this module
carries the program's top-level names from one call to the next. At the end of a call that
finished, `codeact_save.finish` turns the program's globals into bytes; before the next
call's program runs, `restore` turns those bytes back into globals. Both run here, in the
sandbox. The host keeps the bytes and never reads them: to it they are opaque (the host has
no unpickler on this path; unpickling on the host is the remote-code-execution hole
CVE-2025-14931 in smolagents).

What is carried, and how:

    imported modules    by name (``import math as m`` -> m = import_module("math"))
    imported names      by reference, when importing finds the same object
                        (``from math import sqrt`` -> sqrt = math.sqrt)
    functions, classes  by their source: each top-level ``def``/``class`` statement of a
                        program is remembered and run again on restore, decorators included;
                        their data attributes (``Counter.count += 1``) pickled, set again
    values              pickled, one stream per group of names: a name alone, or names whose
                        values share an object (so that two names for one object stay one
                        object); instances of the program's classes refer to them by name

Anything else (an open file, a generator, a lambda, a function defined inside a block) is left
out, named in the report with the reason; the program is not failed for it.

Format of the bytes (this module's alone; the host only stores them)::

    MAGIC, 4-byte big-endian length, header JSON, the groups' pickle streams one after another
    header: {"format", "python", "modules": [[name, module]], "refs": [[name, module, path]],
             "defs": [[name, source, flags, reads, attributes, inert]],
             "groups": [[[name, ...], length], ...]}
    (attributes: a pickled dict as base64, "" for none; inert: whether running it again
    runs none of the program's code, `codeact_defs.inert`)

Restore never fails the call: what it cannot bring back (a definition that raises, even
SystemExit, when run again; a header it cannot read) is dropped and named with the reason.

Restored in that order: modules and imported names first (definitions use them), then the
definitions, then the values (which may be instances of the program's classes), then any
definition that needed a value.

Values are restored lazily: before the program runs, only the groups that hold a name the
program reads (or deletes), or that a carried definition reads, are unpickled. Every other
group stays as its pickled bytes and goes, unchanged, into the next state, unless the program
reaches for it in a way a name does not show: ``globals()``, ``locals()``, ``vars()``,
``dir()``, ``eval`` or ``exec`` called from the program, or ``__main__``'s attributes and
``__dict__`` (then it is unpickled first). A value the program reads is pickled again at the
end, since it may have changed (`codeact_lazy`).

The host may keep the bytes and hand over only what restore asks for (`restore`'s ``fetch``):
the groups are laid out smallest first, so the request's first bytes hold the header and the
small values. `codeact_save.finish` then returns only the new bytes and a ``splice`` of spans
of the old state for the groups that passed through, which never cross the boundary.

Standard library only: this runs on every backend's guest interpreter (CPython 3.10+).
"""

from __future__ import annotations

import ast
import base64
import importlib
import io
import json
import linecache
import pickle
import struct
import sys
import time
from typing import Any

import codeact_host
from codeact_host import OutOfTime
from codeact_lazy import Pending, Read, no_gc, reads_of, reason

__all__ = ["BUDGET", "FORMAT", "LENGTH", "MAGIC", "PYTHON", "Carried", "restore"]

FORMAT = 2
MAGIC = b"codeact-state\n"
LENGTH = struct.Struct(">I")
PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
#: Seconds restore may spend running definitions and unpickling values, when the request
#: does not say (the host sends a share of the call's wall time).
BUDGET = 3.0


class Carried:
    """What `restore` brought into this call: the definitions it ran again (so that `finish`
    can keep them), the objects they made, the names it could not bring back, and the groups
    of values it left as bytes (`Pending`)."""

    def __init__(self, budget: float = BUDGET) -> None:
        self.budget = budget  # seconds for restore's own work (`codeact_host.restoring`)
        # name -> (source, compiler flags, names it reads), in order
        self.defs: dict[str, tuple[str, int, list[str]]] = {}
        self.inert: set[str] = set()  # those of `defs` that run none of the program's code
        self.objects: dict[str, Any] = {}  # name -> what running its definition made
        self.dropped: list[list[str]] = []  # [name, why]
        self.pending: Pending | None = None
        self.tree: ast.Module | None = None  # the program, parsed once for restore and save
        self.ms = 0.0


# -- restore -----------------------------------------------------------------------------


def restore(
    namespace: dict[str, Any],
    data: bytes | None,
    *,
    code: str | None = None,
    filename: str = "<code>",
    fetch: Read | None = None,
    size: int = 0,
    budget: float = BUDGET,
) -> Carried:
    """Bring a saved state into `namespace`: the bytes the host handed over, or (`fetch`)
    a state of `size` bytes the host keeps and hands over piece by piece, as asked: then
    the values the program never reads never enter the sandbox at all. With the program's
    `code`, only the values it (or a carried definition) reads are unpickled; the others
    wait (see the module's docstring). Without it, every value is.

    What restore runs again (definitions, unpickling) runs under `codeact_host.restoring`:
    it cannot call a tool, make an HTTP request or change a file (what tries is dropped, with
    the reason), what it prints is dropped, and it has `budget` seconds in all."""
    started = time.perf_counter()
    carried = Carried(budget)
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
            with no_gc(), codeact_host.restoring(budget):
                try:
                    _restore(namespace, header, read, at, carried, lazy=code is not None)
                except BaseException as exc:  # a damaged header, a definition's side effect
                    _give_up(namespace, header, carried, exc)
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
    start = len(MAGIC) + LENGTH.size
    if total < start:
        raise ValueError("it is cut short")
    head = bytes(read(0, start))
    if not head.startswith(MAGIC):
        raise ValueError("it is not a codeact state")
    (size,) = LENGTH.unpack_from(head, len(MAGIC))
    if start + size > total:
        raise ValueError("it is cut short")
    header = json.loads(bytes(read(start, size)))
    if not isinstance(header, dict):
        raise ValueError("its header is not an object")
    return header, start + size


def _give_up(
    namespace: dict[str, Any], header: dict[str, Any], c: Carried, exc: BaseException
) -> None:
    """Restore failed past what it guards name by name: what it brought back stays, every
    other name of the state is dropped with the reason, so that the call (and the session)
    goes on; the state the call leaves holds what this one has."""
    why = reason("the saved state could not be restored", exc)
    if c.pending is not None:
        c.pending.uninstall()
        c.pending = None
    lost = [name for name in _names(header) if name not in namespace]
    c.dropped += [[name, why] for name in lost] or [["*", why]]


def _names(header: dict[str, Any]) -> list[str]:
    """Every name a header holds, as far as it can be read."""
    found: list[str] = []
    for key in ("modules", "refs", "defs", "groups"):
        entries = header.get(key)
        for entry in entries if isinstance(entries, list) else ():
            head = entry[0] if isinstance(entry, list) and entry else None
            found += [n for n in (head if isinstance(head, list) else [head]) if isinstance(n, str)]
    return found


def _restore(
    namespace: dict[str, Any],
    header: dict[str, Any],
    read: Read,
    at: int,
    c: Carried,
    *,
    lazy: bool,
) -> None:
    if header.get("format") != FORMAT or header.get("python") != PYTHON:
        why = (
            f"the state was saved in format {header.get('format')} by Python "
            f"{header.get('python')}; this sandbox reads format {FORMAT} with Python {PYTHON}"
        )
        c.dropped += [[name, why] for name in _names(header)]
        return
    groups = header["groups"]
    for name, module in header["modules"]:
        try:
            namespace[name] = importlib.import_module(module)
        except BaseException as exc:
            c.dropped.append([name, reason(f"import {module} failed", exc)])
    for name, module, path in header["refs"]:
        try:
            target: Any = importlib.import_module(module)
            for part in path.split("."):
                target = getattr(target, part)
            namespace[name] = target
        except BaseException as exc:
            c.dropped.append([name, reason(f"{module}.{path} could not be imported", exc)])
    pending = c.pending = Pending(namespace, c, read)
    for group_names, length in groups:
        pending.add(list(group_names), at, length)
        at += length
    waiting = []
    for name, source, flags, reads, *rest in header["defs"]:
        inert = len(rest) > 1 and rest[1] is True
        if not _define(namespace, name, source, flags, reads, c, inert=inert):
            waiting.append((name, source, flags, reads))
    if lazy:  # what the program, or a definition it may call, reads by name
        wanted = set(reads_of(c.tree)) if c.tree is not None else set()
        for _name, _source, _flags, reads, *_ in header["defs"]:
            wanted.update(reads)
        wanted.update(name for name in pending.by_name if name in namespace)  # a tool's name
        pending.load(wanted)
    else:
        pending.load_all()
    for name, source, flags, reads in waiting:  # definitions that need a value (a default, a base)
        _define(namespace, name, source, flags, reads, c, last_try=True)
    for name, _source, _flags, _reads, *attrs in header["defs"]:
        if attrs and attrs[0] and name in c.objects:
            _set_attributes(c.objects[name], name, attrs[0], c)
    pending.install()


def _define(
    namespace: dict[str, Any],
    name: str,
    source: str,
    flags: int,
    reads: list[str],
    c: Carried,
    *,
    inert: bool = False,
    last_try: bool = False,
) -> bool:
    """Run a definition again; False when it failed and may succeed later (it needs a
    value restored after it). Dropped, with the reason, when it fails on the `last_try`, when
    it tries to reach outside the sandbox (`codeact_host.Refused`: never again, even if it
    caught that) or when it runs past restore's time. `inert`: its statement runs none of
    the program's code (`codeact_defs.inert`), so it needs no tracer for the deadline (which
    costs at every later instruction)."""
    filename = f"<def {name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    guard = codeact_host.restoring(c.budget)
    with guard as g:
        tried = len(g.tried)
        late = g.spent()
        failed: BaseException | None = None
        try:
            if not late:
                g.arm(trace=not inert)
                exec(compile(source, filename, "exec", flags=flags, dont_inherit=True), namespace)
        except BaseException as exc:  # SystemExit too: a definition never ends the call
            failed = exc
        finally:
            sys.settrace(None)
    if len(g.tried) > tried:
        why = (
            f"its definition {g.tried[tried]}; restore never does that again (no tool call, "
            f"HTTP request or file change): define {name} without it, or keep what it got "
            "in a variable of its own"
        )
    elif late:
        why = (
            f"restore's time ({2 * c.budget:g} s in all) was spent before its definition "
            "could run again"
        )
    elif isinstance(failed, OutOfTime):
        why = (
            f"running its definition again took more than restore's {c.budget:g} s; "
            f"define {name} so that defining it does little"
        )
    elif failed is not None:
        if not last_try:
            return False
        why = reason("its definition failed when it was run again", failed)
    else:
        c.defs[name] = (source, flags, reads)
        if inert:
            c.inert.add(name)
        c.objects[name] = namespace.get(name)
        return True
    namespace.pop(name, None)
    c.dropped.append([name, why])
    return True


def _set_attributes(target: Any, name: str, encoded: str, c: Carried) -> None:
    """Set again the attributes a function or class had when it was saved (``Counter.count
    += 1`` after the ``class``), those its definition does not make the same by itself."""
    try:
        attributes = pickle.Unpickler(io.BytesIO(base64.b64decode(encoded))).load()
    except BaseException as exc:
        c.dropped.append([f"{name}.*", reason("its attributes could not be restored", exc)])
        return
    for attribute, value in attributes.items():
        if _same(vars(target).get(attribute, _ABSENT), value):
            continue  # an Enum's member, a constant of the class body: nothing to set
        try:
            setattr(target, attribute, value)
        except BaseException as exc:
            c.dropped.append([f"{name}.{attribute}", reason("it could not be set again", exc)])


_ABSENT = object()


def _same(made: Any, value: Any) -> bool:
    try:
        return made is value or (type(made) is type(value) and bool(made == value))
    except BaseException:
        return False
