"""Middlewares: the base class, the chain runners, and the built-ins `LogCalls` and `RateLimit`.

Every tool call, nested or direct, passes the same chain (see `codeact.calls.pipeline`).
A middleware is an async function ``async def mw(call, call_next)`` or a `Middleware`
instance; instances may skip calls they do not care about (`applies`) and may offer a
synchronous form (`call_sync`) so that calls keep running inline on the sandbox's thread.
Both built-ins here are synchronous-capable, so using them costs no thread hop.
"""

from __future__ import annotations

import collections
import inspect
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeAlias

from .._checks import is_positive_seconds
from .._display import finite_json
from ..errors import ConfigurationError
from .audit import scrub
from .call import CallDenied, ToolInvocation

__all__ = [
    "CallNext",
    "LogCalls",
    "Middleware",
    "MiddlewareFn",
    "RateLimit",
    "as_middleware",
    "run_chain",
    "run_chain_sync",
]

CallNext: TypeAlias = Callable[[ToolInvocation], Awaitable[Any]]
MiddlewareFn: TypeAlias = Callable[[ToolInvocation, CallNext], Awaitable[Any]]


class Middleware:
    """Base class of middlewares: override `__call__`; optionally `applies` and `call_sync`.

    `applies(call)` False skips the middleware for that call (cheaply: a skipped middleware
    never forces a thread hop). A middleware that overrides `call_sync` runs synchronously
    when every applicable middleware can, with ``call_next`` then a plain function.
    """

    name: str = ""

    def applies(self, call: ToolInvocation) -> bool:
        return True

    async def __call__(self, call: ToolInvocation, call_next: CallNext) -> Any:
        raise NotImplementedError

    def call_sync(self, call: ToolInvocation, call_next: Callable[[ToolInvocation], Any]) -> Any:
        raise NotImplementedError

    @property
    def has_sync(self) -> bool:
        return type(self).call_sync is not Middleware.call_sync

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"

    @property
    def label(self) -> str:
        return self.name or type(self).__name__


class _FunctionMiddleware(Middleware):
    def __init__(self, fn: MiddlewareFn) -> None:
        self.fn = fn
        self.name = getattr(fn, "__name__", None) or type(fn).__name__

    async def __call__(self, call: ToolInvocation, call_next: CallNext) -> Any:
        return await self.fn(call, call_next)


def as_middleware(obj: Middleware | MiddlewareFn) -> Middleware:
    """A `Middleware` instance as is; an async function ``(call, call_next)`` wrapped as one."""
    if isinstance(obj, Middleware):
        return obj
    if isinstance(obj, type):
        raise ConfigurationError(
            f"middleware {obj.__name__} is a class; pass an instance: {obj.__name__}(...)"
        )
    method = getattr(obj, "__call__", None)  # noqa: B004 - the method, to see if it is async
    if inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(method):
        return _FunctionMiddleware(obj)
    raise ConfigurationError(
        f"middleware must be an async function `async def mw(call, call_next)` or a "
        f"codeact Middleware instance, got {obj!r}"
    )


def run_chain_sync(
    call: ToolInvocation,
    chain: Sequence[Middleware],
    terminal: Callable[[ToolInvocation], Any],
    index: int = 0,
) -> Any:
    """Run `call` through the synchronous forms of `chain`, then `terminal`."""
    if index == len(chain):
        return terminal(call)
    middleware = chain[index]
    try:
        return middleware.call_sync(call, lambda c: run_chain_sync(c, chain, terminal, index + 1))
    except CallDenied as exc:
        if exc.by is None:
            exc.by = middleware.label
        raise


async def run_chain(
    call: ToolInvocation,
    chain: Sequence[Middleware],
    terminal: Callable[[ToolInvocation], Awaitable[Any]],
    index: int = 0,
) -> Any:
    """Run `call` through `chain` (async forms), then `terminal`."""
    if index == len(chain):
        return await terminal(call)
    middleware = chain[index]

    async def call_next(c: ToolInvocation) -> Any:
        return await run_chain(c, chain, terminal, index + 1)

    try:
        return await middleware(call, call_next)
    except CallDenied as exc:
        if exc.by is None:
            exc.by = middleware.label
        raise


class LogCalls(Middleware):
    """Log every call (origin, tool, redacted arguments, outcome, milliseconds) to `logger`.

    Costs nothing when the logger does not emit `level`.
    """

    name = "log"

    def __init__(
        self, logger: logging.Logger | str = "codeact.tools", *, level: int = logging.INFO
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level

    def applies(self, call: ToolInvocation) -> bool:
        return self.logger.isEnabledFor(self.level)

    def call_sync(self, call: ToolInvocation, call_next: Callable[[ToolInvocation], Any]) -> Any:
        started = time.perf_counter()
        try:
            result = call_next(call)
        except BaseException as exc:
            self._log(call, started, exc)
            raise
        self._log(call, started, None)
        return result

    async def __call__(self, call: ToolInvocation, call_next: CallNext) -> Any:
        started = time.perf_counter()
        try:
            result = await call_next(call)
        except BaseException as exc:
            self._log(call, started, exc)
            raise
        self._log(call, started, None)
        return result

    def _log(self, call: ToolInvocation, started: float, exc: BaseException | None) -> None:
        ms = (time.perf_counter() - started) * 1000
        try:
            shown = json.dumps(
                finite_json(call.record.arguments),
                ensure_ascii=False,
                default=repr,
                allow_nan=False,
            )
        except (TypeError, ValueError):
            shown = repr(call.record.arguments)
        if len(shown) > 300:
            shown = shown[:297] + "..."
        if exc is None:
            outcome = "ok"
        elif isinstance(exc, CallDenied):
            outcome = f"denied by {exc.by or call.handler}: {exc.reason}"
        else:
            outcome = f"failed: {type(exc).__name__}: {exc}"
        outcome = scrub(outcome, call.record._hidden) or outcome  # what redaction hid, hidden
        decided = call.decision != "not_required"
        approval = f" [{call.decision} by {call.handler}]" if decided else ""
        self.logger.log(
            self.level,
            "%s call %s(%s) %s in %.1f ms%s",
            call.origin,
            call.name,
            shown,
            outcome,
            ms,
            approval,
        )


class RateLimit(Middleware):
    """At most `calls` calls per `per` seconds of each tool in `tools` (every tool if None).

    Each tool is counted separately, across executions and direct calls alike (keep one
    instance for as long as the limit should hold). A call over the rate is denied: a program
    gets ``ToolDenied`` saying when to retry. Calls denied later in the chain (for example by
    a person) do not count.

    >>> RateLimit(5, per=60, tools=["send_email"])
    <RateLimit 5 per 60s of send_email>
    """

    name = "rate_limit"

    def __init__(self, calls: int, *, per: float, tools: Iterable[str] | None = None) -> None:
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
            raise ConfigurationError(f"RateLimit calls must be a positive integer, got {calls!r}")
        if not is_positive_seconds(per):
            raise ConfigurationError(f"RateLimit per must be positive seconds, got {per!r}")
        if isinstance(tools, str):
            tools = [tools]
        self.calls = calls
        self.per = float(per)
        self.tools = frozenset(tools) if tools is not None else None
        self._stamps: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def applies(self, call: ToolInvocation) -> bool:
        return self.tools is None or call.name in self.tools

    def call_sync(self, call: ToolInvocation, call_next: Callable[[ToolInvocation], Any]) -> Any:
        stamp = self._admit(call.name)
        try:
            return call_next(call)
        except CallDenied:
            self._release(call.name, stamp)
            raise

    async def __call__(self, call: ToolInvocation, call_next: CallNext) -> Any:
        stamp = self._admit(call.name)
        try:
            return await call_next(call)
        except CallDenied:
            self._release(call.name, stamp)
            raise

    def _admit(self, name: str) -> float:
        now = time.monotonic()
        with self._lock:
            stamps = self._stamps.setdefault(name, collections.deque())
            while stamps and stamps[0] <= now - self.per:
                stamps.popleft()
            if len(stamps) >= self.calls:
                retry = stamps[0] + self.per - now
                raise CallDenied(
                    f"rate limit: {name}() may be called {self.calls} times per "
                    f"{self.per:g}s; try again in {retry:.1f}s",
                    by=self.name,
                )
            stamps.append(now)
            return now

    def _release(self, name: str, stamp: float) -> None:
        with self._lock:
            stamps = self._stamps.get(name)
            if stamps is not None:
                try:
                    stamps.remove(stamp)
                except ValueError:
                    pass

    def __repr__(self) -> str:
        which = ", ".join(sorted(self.tools)) if self.tools is not None else "every tool"
        return f"<RateLimit {self.calls} per {self.per:g}s of {which}>"
