"""Tool calls from a program: call_tool, call_tool_async, the tools as plain functions, the
errors they raise, and the event loop and sleep that wait on the host.

Each call is encoded as JSON, handed to the host (``HOST.dispatch`` to call and wait,
``HOST.start_call`` and ``HOST.wait_calls`` for concurrent calls), and its JSON result decoded
into plain values, a dict a tool returned as a `ToolResult`. Runs inside the sandbox; imports
only the standard library.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import copyreg
import errno
import json
import json.encoder
import math
import selectors
import threading
from collections.abc import Callable
from typing import Any

import codeact_host

__all__ = [
    "POSITIONAL",
    "SandboxLoop",
    "ToolDenied",
    "ToolError",
    "ToolResult",
    "call_tool",
    "call_tool_async",
    "sleep",
    "tool_function",
    "warm_call_path",
]


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


#: How many levels an argument may nest (the host's `codeact._nesting.MAX_JSON_DEPTH`).
MAX_ARGUMENT_LEVELS = 200


def _json_default(value: object) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"an object of type {type(value).__name__} cannot be sent to a tool; bytes travel "
            "as base64 text: pass base64.b64encode(data).decode() (a bytes parameter decodes "
            "it, and a tool's bytes result comes as such text)"
        )
    raise TypeError(
        f"an object of type {type(value).__name__} cannot be sent to a tool; "
        "pass JSON values (dict, list, str, int, float, bool, None)"
    )


# One encoder and one decoder for every call: json.dumps(default=...) and
# json.loads(object_hook=...) build a new one (and its C scanner) each time, which in the
# wasm guest cost about 10 us per call each, as much as the encoding itself. Even a kept
# JSONEncoder builds its C encoder again in every encode(); the C encoder itself is made once
# here (1.0 us per small call in the wasm guest instead of 2.7), with the same settings as
# JSONEncoder(default=_json_default). Its circular-reference markers are left behind by an
# encoding that fails, so they are cleared then; and they are one encoding's at a time: an
# encoding that starts while another runs (a dict subclass whose items() calls a tool, two
# threads) takes JSONEncoder's own way, with markers of its own.
_ENCODER = json.JSONEncoder(default=_json_default)
_ENCODING = threading.Lock()
_MARKERS: dict[int, Any] = {}
_C_ENCODE: Callable[[Any, int], Any] | None = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        _MARKERS,
        _json_default,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)


def _encode(name: str, kwargs: dict[str, Any]) -> str:
    try:
        # Without the _json accelerator, or inside another encoding: JSONEncoder's own way.
        if _C_ENCODE is None or not _ENCODING.acquire(blocking=False):
            return _ENCODER.encode(kwargs)
        try:
            return "".join(_C_ENCODE(kwargs, 0))
        finally:
            if _MARKERS:  # only after a failed encoding
                _MARKERS.clear()
            _ENCODING.release()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"arguments of {name}(): {exc}") from None
    except RecursionError:  # the host refuses them too, past fewer levels: say it as it does
        raise ToolError(
            f"invalid arguments for {name}(): arguments nested too deep "
            f"(more than {MAX_ARGUMENT_LEVELS} levels)",
            name,
        ) from None


#: The run's `Limits.tool_argument_bytes` (0: none known, e.g. in the warm-up).
ARGUMENT_LIMIT = 0
#: The most characters of a tool's name sent to the host: a longer name is cut, and ends in a
#: character no tool's name (an identifier) has, so it names none, as the whole name would not.
MAX_NAME_CHARS = 4096


def _sent(name: str, payload: str) -> tuple[str, str]:
    """A call's name and JSON arguments as handed to the host: arguments over the limit cut
    just past it, a name past `MAX_NAME_CHARS`, so that the host refuses them as it would the
    whole (an unknown tool; arguments over the limit) and what crosses stays within what a
    frame of the jail's channel may carry."""
    if len(name) > MAX_NAME_CHARS:
        name = name[:MAX_NAME_CHARS] + "\u2026"
    if ARGUMENT_LIMIT and len(payload) > ARGUMENT_LIMIT:
        payload = payload[: ARGUMENT_LIMIT + 1]
    return name, payload


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


POSITIONAL: dict[str, tuple[str, ...]] = {}
PENDING: dict[Any, asyncio.Future[tuple[bool, Any]]] = {}


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
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]


def _decode_result(text: str) -> Any:
    # The host's JSON has no whitespace around it: its scanner alone reads it (0.9 us per
    # small result in the wasm guest; decode() adds two regular-expression matches, 2.0 us).
    try:
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1
    if end == len(text):
        return value
    return _DECODER.decode(text)  # anything else: read, or refused, as json.loads would


def warm_call_path(result_json: str, name: str, kwargs: dict[str, Any]) -> Any:
    """The pool's warm-up: a tool's result decoded and a call encoded, as a program's calls
    are (their first touches of memory, off the caller's path); returns the decoded value."""
    _encode(name, kwargs)
    return _decode_result(result_json)


def call_tool(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call the host tool `name` with keyword arguments and return its result."""
    if not isinstance(name, str):
        raise TypeError(
            "call_tool() takes the tool's name first, e.g. call_tool('get_weather', city='Paris')"
        )
    if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
        kwargs = dict(args[0])  # call_tool("x", {...}): arguments as a dict, as models write
        args = ()
    return _call(name, _arguments(name, args, kwargs, POSITIONAL.get(name)))


def _call(name: str, kwargs: dict[str, Any]) -> Any:
    payload = _encode(name, kwargs)
    codeact_host.OUTPUT.flush()
    ok, result = codeact_host.HOST.dispatch(*_sent(name, payload))
    if not ok:
        _raise_for(name, result)
    return _decode_result(result)


async def call_tool_async(name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Start the host tool `name` and await its result; gather several to run them concurrently."""
    if not isinstance(name, str):
        raise TypeError("call_tool_async() takes the tool's name first")
    payload = _encode(name, _arguments(name, args, kwargs, POSITIONAL.get(name)))
    codeact_host.OUTPUT.flush()
    ok, call_id = codeact_host.HOST.start_call(*_sent(name, payload))
    if not ok:
        _raise_for(name, call_id)
    future = asyncio.get_running_loop().create_future()
    PENDING[call_id] = future
    ok, result = await future
    if not ok:
        _raise_for(name, result)
    return _decode_result(result)


def tool_function(name: str, positional: tuple[str, ...]) -> Callable[..., Any]:
    def tool_function(*args: Any, **kwargs: Any) -> Any:
        return _call(name, _arguments(name, args, kwargs, positional) if args else kwargs)

    tool_function.__name__ = tool_function.__qualname__ = name
    tool_function._codeact_tool = True  # type: ignore[attr-defined]  # a session leaves it out
    return tool_function


# -- time and the event loop -------------------------------------------------------------
def sleep(seconds: Any) -> None:  # checked here, as time.sleep does
    if not isinstance(seconds, (int, float)):
        raise TypeError(f"'{type(seconds).__name__}' object cannot be interpreted as a number")
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    codeact_host.OUTPUT.flush()
    codeact_host.HOST.sleep(min(int(seconds * 1000), 2**62))


def _pump(timeout: float | None) -> None:
    """Wait for finished tool calls (or sleep until the next timer); called by the loop."""
    codeact_host.OUTPUT.flush()
    if PENDING:
        ms = -1 if timeout is None else max(0, math.ceil(timeout * 1000))
        for call_id, ok, result in codeact_host.HOST.wait_calls(ms):
            future = PENDING.pop(call_id, None)
            if future is not None and not future.cancelled():
                future.set_result((ok, result))
    elif timeout is None:
        raise RuntimeError(
            "the event loop would wait forever: nothing is pending "
            "(no tool call started with call_tool_async and no timer)"
        )
    elif timeout > 0:
        codeact_host.HOST.sleep(math.ceil(timeout * 1000))


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
