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
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any

import codeact_net
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


def _encode(name: str, kwargs: dict[str, Any]) -> str:
    try:
        return json.dumps(kwargs, default=_json_default)
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


def _decode_result(text: str) -> Any:
    return json.loads(text, object_hook=ToolResult)


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
def _internal(filename: str) -> bool:
    return (
        filename == __file__
        or "/asyncio/" in filename
        or filename.endswith(("codeact_guest.py", "codeact_net.py"))
    )


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
        note = _file_note(exc)
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
    namespace: dict[str, Any] = {
        "__name__": "__main__",
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
    _POSITIONAL.clear()
    for stub in tools:
        name, positional = stub["name"], tuple(stub["positional"])
        _POSITIONAL[name] = positional
        namespace[name] = _tool_function(name, positional)
    return namespace


def _run(code: str, filename: str, namespace: dict[str, Any]) -> Any:
    tree = ast.parse(code, filename)
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
_WARMUP: dict[str, Any] = {
    "code": "import json\nx = json.dumps([1])\nprint(x)\n"
    "try:\n    warmup_tool(1)\nexcept ToolError:\n    pass\n[x]",
    "tools": [{"name": "warmup_tool", "positional": ["x"]}],
}


def run(request_json: str) -> str:
    """Run one program described by a JSON request; return the JSON report."""
    global _OUTPUT
    request = json.loads(request_json)
    if request.get("warmup"):
        request = _WARMUP
    filename = request.get("filename") or "<code>"
    code = request["code"]
    output = _OUTPUT = _Output(int(request.get("output_limit") or 1 << 20))
    sys.stdout = sys.__stdout__ = _Stream("stdout", 1)  # type: ignore[misc,assignment]
    sys.stderr = sys.__stderr__ = _Stream("stderr", 2)  # type: ignore[misc,assignment]
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    _MOUNTS[:] = [(m["path"], m["mode"]) for m in request.get("mounts") or []]
    _MOUNTS.append(("/output", "rw"))
    report: dict[str, Any] = {}
    try:
        value = _run(code, filename, _globals(request.get("tools") or []))
        report.update(_value_report(value, output.limit))
    except SystemExit as exc:
        code = exc.code  # compared by type first: `code == 0` could run the program's code
        if not (code is None or (type(code) is int and code == 0)):
            report["error"] = _describe(exc, filename)
    except BaseException as exc:
        report["error"] = _describe(exc, filename)
    try:
        output.flush()
    except BaseException:
        pass
    report["output_dropped"] = 0  # the host has the count: flush() reported it on stream 3
    try:
        return json.dumps(report)
    except (TypeError, ValueError):
        report.pop("value", None)
        report["value_repr"] = "<the value could not be encoded>"
        return json.dumps(report)


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
        asyncio.events._get_event_loop_policy()._loop_factory = SandboxLoop  # type: ignore[attr-defined]
    except Exception:
        try:
            asyncio.get_event_loop_policy()._loop_factory = SandboxLoop  # type: ignore[attr-defined]
        except Exception:
            pass
