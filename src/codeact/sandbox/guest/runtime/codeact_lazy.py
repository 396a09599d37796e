"""A session's values that wait as bytes until the program reaches for them.

`codeact_state.restore` leaves every group of values the program does not name as its pickled
bytes (a `Pending`). While any waits, the ways a program can reach a name without naming it
are watched: ``globals()``, ``locals()``, ``vars()``, ``dir()``, ``eval`` and ``exec`` called
from the program (builtins replaced by hooks for the run), and ``__main__``'s attributes and
``__dict__`` (`_LazyMain`); each unpickles the waiting values first, so the program sees what
a full restore would have given it. `reads_of` lists the names a piece of code reads.

Standard library only: this runs on every backend's guest interpreter (CPython 3.10+).
"""

from __future__ import annotations

import ast
import builtins
import gc
import io
import pickle
import sys
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import codeact_host

if TYPE_CHECKING:
    from codeact_state import Carried

__all__ = ["Pending", "no_gc", "reads_of", "reason"]

Read = Callable[[int, int], Any]  # (offset, length) -> those bytes of the state
_MAX_REASON = 300


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
        # Unpickling runs code again (a value's __reduce__): as restore's definitions do,
        # under the guard (no effect outside the sandbox, a deadline), here as well when the
        # program reaches for a value while it runs (each time with restore's budget).
        with no_gc(), codeact_host.restoring(self.carried.budget) as guard:
            unpickler: Any = None
            for at, name in enumerate(names):
                tried = len(guard.tried)
                try:
                    if unpickler is None:
                        unpickler = pickle.Unpickler(io.BytesIO(self.read(offset, length)))
                    guard.arm()
                    try:
                        value = unpickler.load()
                    finally:
                        sys.settrace(None)
                    if len(guard.tried) > tried:
                        raise codeact_host.Refused(guard.tried[tried])
                except BaseException as exc:
                    self.carried.dropped.append([name, _unpickling_failed(exc, self.carried)])
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


def _unpickling_failed(exc: BaseException, carried: Carried) -> str:
    if isinstance(exc, codeact_host.Refused):
        return (
            f"unpickling it {exc.what}; restore never does that again (no tool call, HTTP "
            "request or file change): keep plain data (what the call returned) instead"
        )
    if isinstance(exc, codeact_host.OutOfTime):
        return (
            f"unpickling it took more than restore's {carried.budget:g} s (or restore's "
            f"{2 * carried.budget:g} s in all were spent); keep plain data instead"
        )
    return reason("it could not be restored", exc)


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


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic collector off while (un)pickling: making or walking many containers would
    start it again and again over the same objects, for nothing (none of them is garbage)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def reason(prefix: str, exc: BaseException) -> str:
    try:
        said = str(exc)
        detail = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
    except BaseException:
        detail = type(exc).__name__
    text = f"{prefix} ({detail})"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
