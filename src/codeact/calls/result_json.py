"""A tool's result as JSON text, within its limits: `Limits.tool_result_bytes` and the call's
timeout.

`encode_result` converts and encodes a result (`Tool.to_json`, then `dumps_converted`) with
both limits: a value plainly over `max_bytes` is refused before it is converted
(`json_size_over`); any other is converted within `max_bytes` and by the deadline, so that a
generator, an iterator or a custom container is consumed only as far as the limit. Whatever
the value's own methods raise is the tool's failure: it comes back as the exception that ends
the call, never raised.

A conversion runs code of the value's own and may take a while: on the event loop only a
small value of plain types is converted (`fits_on_loop`); any other is converted in a worker
thread (`encode_in_thread`), awaited until the deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

from .._nesting import ContainsItself
from ..tools import ResultConversionError, Tool
from ..tools.results import ResultContainsItself, ResultConversionTimeout, ResultTooLargeError
from .call import ToolInvocation, default_tool_threads, describe_exception, run_tool
from .json_text import dumps_converted
from .sizes import ResultTooLarge, json_size_over

__all__ = [
    "Encoded",
    "deadline_of",
    "encode_in_thread",
    "encode_result",
    "fits_on_loop",
    "run_timed",
]

#: A result converted and encoded (its JSON values and text), or why it could not be.
Encoded = tuple[Any, str] | Exception

_LOOP_NODES = 256  # the most values a result converted on the event loop may hold
_LOOP_CHARS = 64 * 1024  # and characters of strings
_SCALARS = frozenset((int, float, bool, type(None)))
#: Seconds past its deadline a conversion in a thread is awaited: it checks the deadline
#: itself between the items it takes from the value, this is for one that blocks taking one.
_LATE = 0.05


def encode_result(
    tool: Tool, value: Any, max_bytes: int | None, deadline: float | None,
    stop: threading.Event | None = None,
) -> Encoded:  # fmt: skip
    """`value` converted and encoded, or the exception that ends its call: `ResultTooLarge`,
    `ResultConversionTimeout` (the deadline passed, or `stop` was set: the call is over), or
    `ResultConversionError`."""
    try:
        # A value that holds itself is found there (`ContainsItself`), not walked around
        # until it passes the limit, which would then be named as the thing to raise.
        if max_bytes is not None and json_size_over(value, max_bytes):
            return ResultTooLarge(tool.name, max_bytes, None)
        result = tool.to_json(value, max_bytes=max_bytes, deadline=deadline, stop=stop)
        encoded = dumps_converted(result)
    except ResultTooLargeError as exc:
        return ResultTooLarge(tool.name, exc.max_bytes, None)
    except (ResultConversionTimeout, ResultContainsItself) as exc:
        return exc
    except ContainsItself as exc:
        return ResultContainsItself(exc.where)
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # not the program's to raise: the host's
            return ResultConversionError(
                "it holds an integer of more digits than this host writes as JSON "
                "(sys.get_int_max_str_digits()); the tool must return such a number as a "
                "string (str(n))"
            )
        return ResultConversionError(describe_exception(exc))
    except BaseException as exc:  # a value's own methods may raise anything
        return ResultConversionError(describe_exception(exc))
    if max_bytes is not None and len(encoded) > max_bytes:
        return ResultTooLarge(tool.name, max_bytes, len(encoded))
    return result, encoded


def fits_on_loop(value: Any) -> bool:
    """Whether `value` is small and made only of dicts, lists and plain values (no code of
    its own runs converting it): at most `_LOOP_NODES` values, `_LOOP_CHARS` characters."""
    nodes, chars = _LOOP_NODES, _LOOP_CHARS
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        nodes -= 1
        if kind is str:
            chars -= len(item)
        elif kind is list:
            nodes -= len(item)
            stack.extend(item)
        elif kind is dict:
            nodes -= len(item)
            for key, child in item.items():
                if type(key) is not str:
                    return False
                chars -= len(key)
                stack.append(child)
        elif kind not in _SCALARS:
            return False
        if nodes < 0 or chars < 0:
            return False
    return True


async def encode_in_thread(
    encode: Callable[[threading.Event], Encoded], deadline: float | None
) -> Encoded:
    """`encode(stop)` run in a worker thread (in a copy of the current context), awaited until
    `deadline` (a `time.monotonic()` value): past it, a `ResultConversionTimeout`. `stop` is
    set once it is no longer awaited (past the deadline, or cancelled: the call is over), and
    the conversion stops at its next look (no thread goes on converting for a call over)."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    stop = threading.Event()
    future = loop.run_in_executor(default_tool_threads(), context.run, encode, stop)
    wait = None if deadline is None else max(0.0, deadline - time.monotonic()) + _LATE
    try:
        done, _ = await asyncio.wait({future}, timeout=wait)
    finally:
        stop.set()  # a no-op once it returned
    if not done:
        return ResultConversionTimeout("its conversion to JSON ran past the call's timeout")
    return future.result()


async def run_timed(call: ToolInvocation, timeout: float) -> Any:
    """Run the call's tool (`run_tool`), noting when it started: `deadline_of` counts from
    there."""
    call.ran_at = time.monotonic()
    return await run_tool(call.tool, call.kwargs, timeout)


def deadline_of(call: ToolInvocation, timeout: float | None) -> float | None:
    """When the conversion of the call's result must be done: `timeout` after its tool
    started (after now, if it never did: a middleware's own value)."""
    if timeout is None:
        return None
    return (call.ran_at if call.ran_at is not None else time.monotonic()) + timeout
