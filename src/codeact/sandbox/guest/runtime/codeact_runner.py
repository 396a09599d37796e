"""codeact's program runner: runs inside a sandbox, on any backend's interpreter.

It gives model code the sandbox contract (``call_tool``, tools as plain functions,
``call_tool_async``, ``ToolError``/``ToolDenied``, output capped and handed to the host,
the last expression's value, tracebacks in the submitted code's line numbers) on top of a
small host interface that each backend's glue implements:

    dispatch(name, args_json) -> (ok, payload)     call a tool and wait
    start_call(name, args_json) -> (ok, id|payload) start a tool call
    wait_calls(timeout_ms) -> [[id, ok, payload]]  finished started calls
    sleep(ms)                                      a sleep the host bounds by the deadline
    write_output(stream, text)                     stream 1 stdout, 2 stderr
    http_request(request_json) -> (ok, payload)    optional: HTTP through the host's allow-list
                                                   (see codeact_net; without it, no network)

This module runs on the guest interpreter (CPython 3.10+), imports only the standard
library, and is not imported by the host package. Everything it reports is untrusted there.
"""

from __future__ import annotations

import ast
import asyncio
import asyncio.selector_events
import base64
import copyreg
import errno
import io
import json
import linecache
import math
import os
import posixpath
import selectors
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any

import codeact_net
import codeact_save
import codeact_state
from codeact_net import NetworkDenied, NetworkError, http_get, http_post, http_request

__all__ = ["NetworkDenied", "NetworkError", "ToolDenied", "ToolError", "install"]

HOST: Any = None  # the backend's glue object (the interface above); set by install()


class ToolError(Exception):
    """A tool call failed: the tool raised, its arguments were invalid, or it is unknown."""

    def __init__(self, message: str, tool: str | None = None) -> None:
        super().__init__(message)
        self.tool = tool
        self.message = message


class ToolDenied(ToolError):
    """A tool call was not approved; the tool did not run."""


# Shown as plain `ToolError` in tracebacks, like the builtins model code knows.
ToolError.__module__ = ToolDenied.__module__ = "builtins"


# -- output ------------------------------------------------------------------------------
class _Output:
    """stdout and stderr, capped together at `limit` bytes (the rest is counted, not kept).

    Text is handed to the host at every line end for the first 64 KiB (so a program stopped
    by a limit keeps everything it printed), then in chunks: when 8 KiB are waiting, when
    0.1 s passed since the last hand-over, and before every host call.
    """

    LINE_BUFFERED_BYTES = 64 * 1024
    FLUSH_BYTES = 8192
    FLUSH_SECONDS = 0.1

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.dropped = 0
        self.reported_dropped = 0
        self.buffer: list[str] = []
        self.buffered = 0
        self.stream = 1
        self.last_flush = time.monotonic()

    def write(self, stream: int, text: str) -> None:
        if not text:
            return
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        room = self.limit - self.used
        if size > room:
            if room <= 0:
                self.dropped += size
                if time.monotonic() - self.last_flush >= self.FLUSH_SECONDS:
                    self.flush()  # keeps the host's count of dropped bytes current
                return
            if text.isascii():
                text = text[:room]
            else:
                text = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            kept = len(text.encode("utf-8", "surrogatepass"))
            self.dropped += size - kept
            size = kept
        if stream != self.stream:
            self.flush()
            self.stream = stream
        self.buffer.append(text)
        self.buffered += size
        self.used += size
        if (
            self.buffered >= self.FLUSH_BYTES
            or (self.used <= self.LINE_BUFFERED_BYTES and text.endswith("\n"))
            or time.monotonic() - self.last_flush >= self.FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        if self.dropped != self.reported_dropped:
            HOST.write_output(3, str(self.dropped))  # stream 3: running total of dropped bytes
            self.reported_dropped = self.dropped
            self.last_flush = time.monotonic()
        if self.buffer:
            text = "".join(self.buffer)
            self.buffer.clear()
            self.buffered = 0
            if not text.isascii():
                # Lone surrogates are not text a host can take (a Wasm string must be valid
                # Unicode): show them escaped, as repr() would.
                text = text.encode("utf-8", "backslashreplace").decode("utf-8")
            HOST.write_output(self.stream, text)
            self.last_flush = time.monotonic()


_OUTPUT = _Output(1 << 20)


class _Stream(io.TextIOBase):
    def __init__(self, name: str, stream: int) -> None:
        self._name = name
        self._stream = stream

    @property
    def name(self) -> str:
        return "<" + self._name + ">"

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        _OUTPUT.write(self._stream, text)
        return len(text)

    def flush(self) -> None:
        pass


# -- tool calls --------------------------------------------------------------------------
def _json_default(value: object) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(
        f"an object of type {type(value).__name__} cannot be sent to a tool; "
        "pass JSON values (dict, list, str, int, float, bool, None)"
    )


# One encoder and one decoder for every call: json.dumps(default=...) and
# json.loads(object_hook=...) build a new one (and its C scanner) each time, which in the
# wasm guest cost about 10 us per call each, as much as the encoding itself.
_ENCODER = json.JSONEncoder(default=_json_default)


def _encode(name: str, kwargs: dict[str, Any]) -> str:
    try:
        return _ENCODER.encode(kwargs)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"arguments of {name}(): {exc}") from None


def _raise_for(name: str, payload: Any) -> None:
    try:
        data = json.loads(payload)
        kind, message = data["kind"], data["message"]
    except Exception:
        kind, message = "error", str(payload)
    if kind == "denied":
        raise ToolDenied(message, name)
    raise ToolError(message, name)


def _arguments(
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    positional: tuple[str, ...] | None,
) -> dict[str, Any]:
    if not args:
        return kwargs
    if positional is None:  # call_tool("x", {...}): a dict of arguments, as small models write
        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            return dict(args[0])
        raise TypeError(
            f"call_tool({name!r}, ...) takes the tool's arguments as keywords, "
            f"e.g. call_tool({name!r}, city='Paris')"
        )
    if len(args) > len(positional):
        raise TypeError(
            f"{name}() takes {len(positional)} positional argument"
            f"{'' if len(positional) == 1 else 's'} but {len(args)} were given"
        )
    for pname, value in zip(positional, args):  # noqa: B905 - len(args) checked above
        if pname in kwargs:
            raise TypeError(f"{name}() got multiple values for argument {pname!r}")
        kwargs[pname] = value
    return kwargs


_POSITIONAL: dict[str, tuple[str, ...]] = {}
_PENDING: dict[Any, asyncio.Future[tuple[bool, Any]]] = {}


class ToolResult(dict[str, Any]):
    """A dict a tool returned. A missing key says which keys there are, so the program's
    author (often a small model) can fix the program from the traceback alone."""

    __slots__ = ()

    def __missing__(self, key: str) -> Any:
        keys = list(self)
        shown = ", ".join(repr(k) for k in keys[:25]) + (", ..." if len(keys) > 25 else "")
        raise KeyError(f"{key!r} (this dict from a tool has the keys: {shown or 'none'})")


ToolResult.__module__ = "builtins"


# The classes above are shown as builtins, where pickle cannot find them: a session's state
# (codeact_state) saves their objects through these functions of this module instead.
def _rebuild_tool_result(items: dict[str, Any]) -> ToolResult:
    return ToolResult(items)


def _rebuild_tool_error(denied: bool, message: str, tool: str | None) -> ToolError:
    return (ToolDenied if denied else ToolError)(message, tool)


copyreg.pickle(ToolResult, lambda r: (_rebuild_tool_result, (dict(r),)))
for _error in (ToolError, ToolDenied):
    copyreg.pickle(
        _error, lambda e: (_rebuild_tool_error, (isinstance(e, ToolDenied), e.message, e.tool))
    )
del _error


_DECODER = json.JSONDecoder(object_hook=ToolResult)


def _decode_result(text: str) -> Any:
    return _DECODER.decode(text)


def call_tool(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call the host tool `name` with keyword arguments and return its result."""
    if not isinstance(name, str):
        raise TypeError(
            "call_tool() takes the tool's name first, e.g. call_tool('get_weather', city='Paris')"
        )
    if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
        kwargs = dict(args[0])  # call_tool("x", {...}): arguments as a dict, as models write
        args = ()
    payload = _encode(name, _arguments(name, args, kwargs, _POSITIONAL.get(name)))
    _OUTPUT.flush()
    ok, result = HOST.dispatch(name, payload)
    if not ok:
        _raise_for(name, result)
    return _decode_result(result)


async def call_tool_async(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Start the host tool `name` and await its result; gather several to run them concurrently."""
    if not isinstance(name, str):
        raise TypeError("call_tool_async() takes the tool's name first")
    payload = _encode(name, _arguments(name, args, kwargs, _POSITIONAL.get(name)))
    _OUTPUT.flush()
    ok, call_id = HOST.start_call(name, payload)
    if not ok:
        _raise_for(name, call_id)
    future = asyncio.get_running_loop().create_future()
    _PENDING[call_id] = future
    ok, result = await future
    if not ok:
        _raise_for(name, result)
    return _decode_result(result)


def _tool_function(name: str, positional: tuple[str, ...]) -> Callable[..., Any]:
    def tool_function(*args: Any, **kwargs: Any) -> Any:
        return call_tool(name, **_arguments(name, args, kwargs, positional))

    tool_function.__name__ = tool_function.__qualname__ = name
    tool_function._codeact_tool = True  # type: ignore[attr-defined]  # a session leaves it out
    return tool_function


# -- files -------------------------------------------------------------------------------
_MOUNTS: list[tuple[str, str]] = []  # [(sandbox path, mode)] of this run, /output included


def _file_note(exc: BaseException) -> str | None:
    """A hint for an uncaught file error: which paths exist in the sandbox, and how."""
    if not isinstance(exc, OSError) or not isinstance(exc.filename, str):
        return None
    raw = exc.filename
    seen = ", ".join(
        f"{path} ({'read-write' if mode == 'rw' else 'read-only'})" for path, mode in _MOUNTS
    )
    if ".." in raw.split("/"):
        return f"'..' cannot lead out of a mounted directory; the sandbox sees only {seen}"
    path = posixpath.normpath(posixpath.join(os.getcwd() if not raw.startswith("/") else "/", raw))
    for mount, mode in _MOUNTS:
        if path == mount or path.startswith(mount + "/"):
            if isinstance(exc, PermissionError) and mode == "ro":
                return f"{mount} is mounted read-only; write files you want to return under /output"
            if isinstance(exc, PermissionError):
                return f"a symlink or path that leads out of {mount} cannot be followed"
            return None
    return f"{path} does not exist in the sandbox; it sees only {seen}"


# -- packages ----------------------------------------------------------------------------
_PACKAGES: list[str] = []  # [path, top-level modules...] of the packages granted to this run


def _grant_packages(grant: dict[str, Any] | None) -> None:
    """Put the granted (read-only) package tree on sys.path, after the standard library."""
    _PACKAGES[:] = [str(grant.get("path") or ""), *(grant.get("modules") or [])] if grant else []
    if grant and grant.get("path"):
        _MOUNTS.append((grant["path"], "ro"))
        if grant["path"] not in sys.path:
            sys.path.append(grant["path"])


def _import_note(exc: BaseException) -> str | None:
    """A hint for an uncaught failed import: what the sandbox offers, or what a package lacks."""
    if not isinstance(exc, ImportError) or not isinstance(exc.name, str):
        return None
    top = exc.name.partition(".")[0]
    if "it offers the standard library" in str(exc) or (
        "in the sandbox" in str(exc) and not _PACKAGES
    ):
        return None  # the sandbox's own import error said it all
    path = _PACKAGES[0] if _PACKAGES else None
    from_package = path and any(
        (frame.f_code.co_filename or "").startswith(path + "/")
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )
    if from_package:
        hint = (
            (
                "; the wasm sandbox has no native extensions, processes or sockets: "
                "backend='jail' runs native packages"
            )
            if path == "/packages"
            else ""
        )
        return f"a granted package needs {exc.name!r}, which this sandbox does not offer{hint}"
    if top in sys.stdlib_module_names or top in _PACKAGES[1:]:
        return None
    granted = ", ".join(_PACKAGES[1:]) or "none"
    return (
        f"besides the standard library, this sandbox has only the granted packages "
        f"({granted}); others must be granted on the host: CodeAct(packages=[...])"
    )


# -- time and the event loop -------------------------------------------------------------
def _sleep(seconds: Any) -> None:  # checked here, as time.sleep does
    if not isinstance(seconds, (int, float)):
        raise TypeError(f"'{type(seconds).__name__}' object cannot be interpreted as a number")
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    _OUTPUT.flush()
    HOST.sleep(min(int(seconds * 1000), 2**62))


def _pump(timeout: float | None) -> None:
    """Wait for finished tool calls (or sleep until the next timer); called by the loop."""
    _OUTPUT.flush()
    if _PENDING:
        ms = -1 if timeout is None else max(0, math.ceil(timeout * 1000))
        for call_id, ok, result in HOST.wait_calls(ms):
            future = _PENDING.pop(call_id, None)
            if future is not None and not future.cancelled():
                future.set_result((ok, result))
    elif timeout is None:
        raise RuntimeError(
            "the event loop would wait forever: nothing is pending "
            "(no tool call started with call_tool_async and no timer)"
        )
    elif timeout > 0:
        HOST.sleep(math.ceil(timeout * 1000))


class _HostSelector(selectors.BaseSelector):
    """The sandbox has no file descriptors to watch; waiting means waiting for the host."""

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        raise OSError(errno.ENOTSUP, "the sandbox has no sockets or pipes to watch")

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        raise KeyError(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        _pump(timeout)
        return []

    def close(self) -> None:
        pass

    def get_map(self) -> Any:
        return {}


class SandboxLoop(asyncio.selector_events.BaseSelectorEventLoop):
    """asyncio's selector loop without a self-pipe (WASI has no socketpair); it waits on the
    host for tool calls and timers."""

    def __init__(self) -> None:
        super().__init__(_HostSelector())

    def _make_self_pipe(self) -> None:
        pass

    def _close_self_pipe(self) -> None:
        pass

    def _write_to_self(self) -> None:
        pass

    def _process_self_data(self, data: bytes) -> None:
        pass


# -- running a program -------------------------------------------------------------------
#: The guest's own modules: their frames are never shown in a program's traceback.
_OWN_FILES = (
    "codeact_guest.py",
    "codeact_net.py",
    "codeact_state.py",
    "codeact_lazy.py",
    "codeact_save.py",
)


def _internal(filename: str) -> bool:
    return (
        filename == __file__
        or "/asyncio/" in filename
        or filename.endswith(_OWN_FILES)
        or "/codeact/sandbox/" in filename  # the jail's inside, on the host's path
        or filename.startswith("<frozen ")
        or _in_stdlib(filename)  # the program's own frames are what it can fix
    )


_STDLIB = tuple({os.path.dirname(os.__file__) + "/", sys.base_prefix.rstrip("/") + "/"})


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB) and "-packages/" not in filename


def _trim(te: traceback.TracebackException | None, seen: set[int]) -> None:
    """Drop the runner's frames (and asyncio's machinery) from a TracebackException."""
    if te is None or id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if not _internal(f.filename)])
    _trim(te.__cause__, seen)
    _trim(te.__context__, seen)


#: Freed on MemoryError so the error can be reported.
_RESERVE: bytearray | None = bytearray(2 * 1024 * 1024)


def _describe(exc: BaseException, filename: str) -> dict[str, Any]:
    global _RESERVE
    if isinstance(exc, MemoryError):
        _RESERVE = None
    lineno = None
    try:
        note = _file_note(exc) or _import_note(exc)
    except BaseException:
        note = None
    try:
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
        _trim(te, set())
        text = "".join(te.format())
        if note:  # appended by hand: exception notes (add_note) need Python 3.11
            text += note.rstrip("\n") + "\n"
        for frame in te.stack:
            if frame.filename == filename:
                lineno = frame.lineno
        if isinstance(exc, SyntaxError) and exc.filename == filename:
            lineno = exc.lineno
    except BaseException:
        text = f"{type(exc).__name__}: (the traceback could not be formatted)\n"
    try:
        message = str(exc)
    except BaseException:
        message = "(the message could not be formatted)"
    return {"type": type(exc).__name__, "message": message, "traceback": text, "lineno": lineno}


def _globals(tools: Iterable[dict[str, Any]]) -> dict[str, Any]:
    # The program's globals are a real module's, and that module is __main__ while it runs,
    # as for a script: pickle (and so a session's state) finds its classes and functions.
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    namespace: dict[str, Any] = main.__dict__
    namespace.update(
        {
            "__builtins__": __builtins__,
            "call_tool": call_tool,
            "call_tool_async": call_tool_async,
            "ToolError": ToolError,
            "ToolDenied": ToolDenied,
            "http_request": http_request,
            "http_get": http_get,
            "http_post": http_post,
            "NetworkError": NetworkError,
            "NetworkDenied": NetworkDenied,
        }
    )
    _POSITIONAL.clear()
    for stub in tools:
        name, positional = stub["name"], tuple(stub["positional"])
        _POSITIONAL[name] = positional
        namespace[name] = _tool_function(name, positional)
    return namespace


def _run(
    code: str, filename: str, namespace: dict[str, Any], tree: ast.Module | None = None
) -> Any:
    tree = tree or _parse(code, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        tree.body.pop()
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    body = compile(tree, filename, "exec", flags=flags, dont_inherit=True)
    tail = compile(last, filename, "eval", flags=flags, dont_inherit=True) if last else None
    loop: SandboxLoop | None = None

    def evaluate(compiled: CodeType) -> Any:
        nonlocal loop
        if compiled.co_flags & 0x80:  # CO_COROUTINE: the program awaits at top level
            loop = loop or SandboxLoop()
            return loop.run_until_complete(eval(compiled, namespace))
        return eval(compiled, namespace)

    try:
        evaluate(body)
        return evaluate(tail) if tail is not None else None
    finally:
        if loop is not None and not loop.is_closed():
            loop.close()


def _value_report(value: Any, limit: int) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        text = json.dumps(value)
        if len(text) <= limit:
            return {"has_value": True, "value": value}
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        shown = repr(value)
    except BaseException:
        shown = f"<{type(value).__name__} object (repr failed)>"
    if len(shown) > limit:
        shown = shown[:limit] + f"... [{len(shown) - limit} more characters cut]"
    return {"has_value": True, "value_repr": shown}


# The pool runs this once in every fresh instance, off the caller's path, so that the first
# real program does not pay for touching the runner's code and memory for the first time.
# It keeps a session's state too, and restores it once (`_warm_restore`): the first pickling
# and unpickling in an instance cost several times what the next ones do.
_WARMUP: dict[str, Any] = {
    "code": "import json\nx = json.dumps([1])\nprint(x)\n"
    "rows = [{'id': 1, 'name': 'a', 'score': 0.5}]\n"
    "def first(r):\n    return r[0]\n"
    "try:\n    warmup_tool(1)\nexcept ToolError:\n    pass\n[x, first(rows)]",
    "tools": [{"name": "warmup_tool", "positional": ["x"]}],
    "session": {"state": None, "limit": 1 << 20},
}


#: The name under which the guest asks the host for bytes of its session's state: no tool
#: can have it (it is not an identifier), and the host answers it before any tool is looked up.
_STATE_READ = "\x00state"


def _read_state(offset: int, length: int) -> bytes:
    """Bytes of the session's state that the host keeps (a request whose session says
    ``"fetch"``): the jail's glue has its own frame for it, the others ask as a call."""
    read = getattr(HOST, "read_state", None)
    if read is not None:
        data = read(offset, length)
    else:
        ok, payload = HOST.dispatch(_STATE_READ, json.dumps([offset, length]))
        if not ok:
            raise OSError(f"the host did not hand over the state: {payload}")
        data = payload.encode("latin-1")
    if len(data) != length:
        raise OSError(f"the host handed over {len(data)} bytes of the state, not {length}")
    return data  # type: ignore[no-any-return]


def _warm_restore(report: dict[str, Any]) -> None:
    """Restore the warm-up's state as a next call would, reading one value and leaving the
    other waiting, and save it again (a splice): every path of a session's call, once."""
    saved = report.get("session", {}).get("state")
    if not isinstance(saved, bytes):
        return
    namespace = types.ModuleType("__main__").__dict__  # not sys.modules': no hook reaches it
    code = "x += '1'"
    carried = codeact_state.restore(
        namespace, saved[:64], code=code, fetch=lambda at, n: saved[at : at + n], size=len(saved)
    )
    try:
        codeact_save.finish(
            namespace,
            {},
            code=code,
            filename="<warmup>",
            carried=carried,
            limit=1 << 20,
            succeeded=True,
        )
    finally:
        if carried.pending is not None:
            carried.pending.uninstall()  # the builtins as they were, whatever happened


def run(request_json: str) -> str:
    """Run one program described by a JSON request; return the JSON report.

    A session's state travels as base64 in the JSON, or, when the request's session says
    ``"raw"``, as raw bytes after the JSON: a NUL (which JSON text never holds), then the
    bytes as latin-1 text, both ways. The raw form saves encoding, escaping and decoding
    the bytes where that is slow (the wasm guest). When it says ``"fetch": size``, the host
    keeps the state and hands over the pieces restore asks for (`_read_state`)."""
    global _OUTPUT
    request_json, _, raw_state = request_json.partition("\x00")
    request = json.loads(request_json)
    warmup = bool(request.get("warmup"))
    if warmup:
        request = _WARMUP
    filename = request.get("filename") or "<code>"
    code = request["code"]
    output = _OUTPUT = _Output(int(request.get("output_limit") or 1 << 20))
    sys.stdout = sys.__stdout__ = _Stream("stdout", 1)  # type: ignore[misc,assignment]
    sys.stderr = sys.__stderr__ = _Stream("stderr", 2)  # type: ignore[misc,assignment]
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    _MOUNTS[:] = [(m["path"], m["mode"]) for m in request.get("mounts") or []]
    _MOUNTS.append(("/output", "rw"))
    _grant_packages(request.get("packages"))
    report: dict[str, Any] = {}
    namespace = _globals(request.get("tools") or [])
    baseline = dict(namespace)
    session = request.get("session")
    carried = None
    try:
        if isinstance(session, dict):  # restored before the program, in its own globals
            encoded = session.get("state")
            state = (
                raw_state.encode("latin-1")
                if session.get("raw")
                else base64.b64decode(encoded)
                if isinstance(encoded, str)
                else None
            )
            carried = codeact_state.restore(
                namespace,
                state,
                code=code,
                filename=filename,
                fetch=_read_state,
                size=int(session.get("fetch") or 0),
            )
        value = _run(code, filename, namespace, carried.tree if carried else None)
        report.update(_value_report(value, output.limit))
    except SystemExit as exc:
        _exit_report(exc, report)
    except BaseException as exc:
        report["error"] = _describe(exc, filename)
    if carried is not None and isinstance(session, dict):
        try:
            report["session"] = codeact_save.finish(
                namespace,
                baseline,
                code=request["code"],
                filename=filename,
                carried=carried,
                limit=int(session["limit"]),
                succeeded="error" not in report,
            )
        except BaseException as exc:
            report["session"] = {"failed": _describe(exc, filename)["message"]}
    if warmup:
        try:
            _warm_restore(report)
        except BaseException:
            pass
    try:
        output.flush()
    except BaseException:
        pass
    report["output_dropped"] = 0  # the host has the count: flush() reported it on stream 3
    tail = ""
    saved = report.get("session", {}).get("state")
    if isinstance(saved, bytes):
        if isinstance(session, dict) and session.get("raw"):
            tail = "\x00" + saved.decode("latin-1")
            report["session"]["state"] = None
        else:
            report["session"]["state"] = base64.b64encode(saved).decode("ascii")
    try:
        return json.dumps(report) + tail
    except (TypeError, ValueError):
        report.pop("value", None)
        report["value_repr"] = "<the value could not be encoded>"
        return json.dumps(report)


# -- sandbox refusals that explain themselves, and sys.exit() ---------------------------------
_NO_NETWORK = (
    "no network in the sandbox; grant hosts with allowed_domains=[...] and reach them with "
    "http_get()/http_request() or urllib.request"
)
_NO_THREADS = (
    "threads are not available in the sandbox; for concurrent tool calls use "
    "asyncio.gather(call_tool_async(...), ...)"
)


def _parse(code: str, filename: str) -> ast.Module:
    try:
        return ast.parse(code, filename)
    except SyntaxError as exc:
        raise exc.with_traceback(None) from None  # the program's error, not ast.py's frame


def _exit_report(exc: SystemExit, report: dict[str, Any]) -> None:
    """sys.exit(n) ends the program with status n: 0 is success, anything else an error
    without a traceback (a message, as in sys.exit("why"), goes to stderr with status 1)."""
    code = exc.code  # compared by type first: `code == 0` could run the program's code
    if code is None or type(code) is bool or type(code) is int:
        status = int(code or 0)
    else:
        try:
            sys.stderr.write(str(code) + "\n")
        except BaseException:
            pass
        status = 1
    report["exit_status"] = status
    if status != 0:
        report["error"] = {
            "type": "SystemExit",
            "message": f"the program exited with status {status}",
            "traceback": "",
            "lineno": None,
        }


def _explain_refusals() -> None:
    """Threads and sockets that the sandbox refuses say so (with EACCES), not a bare
    "can't start new thread" or an OSError whose errno means "no such file"."""
    import _thread
    import threading

    targets = (
        (_thread, "start_new_thread"),
        (_thread, "start_joinable_thread"),
        (threading, "_start_new_thread"),
        (threading, "_start_joinable_thread"),
    )
    for module, name in targets:
        original = getattr(module, name, None)
        if original is not None and not getattr(original, "_codeact", False):
            setattr(module, name, _explained_thread_start(original))
    try:
        import socket
    except ImportError:
        return
    original_init = socket.socket.__init__
    if getattr(original_init, "_codeact", False):
        return

    def __init__(
        self: Any, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None
    ) -> None:
        try:
            original_init(self, family, type, proto, fileno)
        except OSError:
            if fileno is not None:
                raise
            raise _Refused(errno.EACCES, _NO_NETWORK) from None

    __init__._codeact = True  # type: ignore[attr-defined]
    socket.socket.__init__ = __init__  # type: ignore[method-assign]


class _Refused(PermissionError):
    """A PermissionError that shows its errno by name: WASI numbers EACCES 2, which reads as
    ENOENT to anyone used to Linux."""

    def __str__(self) -> str:
        name = errno.errorcode.get(self.errno, self.errno) if self.errno is not None else None
        return f"[{name}] {self.strerror}"


_Refused.__name__ = _Refused.__qualname__ = "PermissionError"
_Refused.__module__ = "builtins"


def _explained_thread_start(original: Any) -> Any:
    def start(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except RuntimeError as exc:
            if "thread" not in str(exc):
                raise
            raise RuntimeError(_NO_THREADS) from None

    start._codeact = True  # type: ignore[attr-defined]
    return start


def install(host: Any, *, patch_time: bool = True) -> None:
    """Connect the runner to a backend's host glue and patch the interpreter for it."""
    global HOST
    HOST = host
    if patch_time:
        time.sleep = _sleep
    # A backend whose glue has no http_request keeps the default: every request refused.
    send = getattr(host, "http_request", None)
    codeact_net.install(send or codeact_net._no_network, lambda: _OUTPUT.flush())
    asyncio.events.new_event_loop = SandboxLoop
    asyncio.new_event_loop = SandboxLoop
    try:
        _explain_refusals()
    except Exception:
        pass
    try:
        asyncio.events._get_event_loop_policy()._loop_factory = SandboxLoop  # type: ignore[attr-defined]
    except Exception:
        try:
            asyncio.get_event_loop_policy()._loop_factory = SandboxLoop  # type: ignore[attr-defined]
        except Exception:
            pass
