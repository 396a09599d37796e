"""`Lookups`: one execution's DNS lookups, bounded, and never in a pool another execution shares.

``getaddrinfo`` has no timeout and cannot be cancelled: a lookup runs in a thread of its own
and the caller stops waiting at its deadline (or when the execution is cancelled). What keeps
one program from hurting another:

* each execution owns its lookups: at most `PER_EXECUTION` may be unfinished at once (those
  it stopped waiting for included, until the resolver answers them); past that its next
  lookup fails at once, and no other execution waits behind them;
* identical lookups still in flight (same resolver, host and port) share one thread, so a
  flood of lookups of one slow name costs one thread;
* a process-wide backstop, `MAX_PENDING` unfinished lookups in all, makes a lookup fail at
  once instead of piling up threads when the resolver stops answering altogether.
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from collections.abc import Callable, Sequence

__all__ = ["MAX_PENDING", "PER_EXECUTION", "LookupRefused", "Lookups", "Resolver"]

#: Resolves (host, port) to IP address strings. The default asks the system.
Resolver = Callable[[str, int], Sequence[str]]

#: Unfinished lookups one execution may have (abandoned ones count until they end).
PER_EXECUTION = 4
#: Unfinished lookups in the whole process.
MAX_PENDING = 64

_POLL = 0.05  # how often a waiting lookup notices a cancellation

_lock = threading.Lock()
_inflight: dict[tuple[int, str, int], concurrent.futures.Future[list[str]]] = {}


class LookupRefused(Exception):
    """Too many lookups of this execution (or of the process) are still unanswered."""


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Lookups:
    """The DNS lookups of one execution (see the module docstring)."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        self._resolver: Resolver = resolver or system_resolve
        self._mine: set[concurrent.futures.Future[list[str]]] = set()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop every wait now (the execution is being stopped)."""
        self._cancelled.set()

    def resolve(self, host: str, port: int, *, until: float) -> list[str]:
        """The addresses of `host`; TimeoutError past `until` (monotonic seconds) or when
        cancelled, LookupRefused when too many lookups are unfinished, OSError from the
        resolver."""
        future = self._start(host, port)
        while True:
            if self._cancelled.is_set():
                raise TimeoutError("cancelled")
            remaining = until - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline")
            try:
                return list(future.result(timeout=min(_POLL, remaining)))
            except concurrent.futures.TimeoutError:
                continue

    def pending(self) -> int:
        """This execution's unfinished lookups."""
        with self._lock:
            return len(self._mine)

    def _start(self, host: str, port: int) -> concurrent.futures.Future[list[str]]:
        key = (id(self._resolver), host, port)
        with _lock:
            future = _inflight.get(key)
            with self._lock:
                if future is not None and future in self._mine:
                    return future
                if len(self._mine) >= PER_EXECUTION:
                    raise LookupRefused(
                        f"{len(self._mine)} DNS lookups of this program are still unanswered "
                        f"(at most {PER_EXECUTION} at a time)"
                    )
                if future is None:
                    if len(_inflight) >= MAX_PENDING:
                        raise LookupRefused(
                            f"{len(_inflight)} DNS lookups on this host are still unanswered; "
                            "the resolver is not responding"
                        )
                    future = concurrent.futures.Future()
                    _inflight[key] = future
                    threading.Thread(
                        target=_run,
                        args=(self._resolver, host, port, key, future),
                        name="codeact-dns",
                        daemon=True,
                    ).start()
                self._mine.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future[list[str]]) -> None:
        with self._lock:
            self._mine.discard(future)


def _run(
    resolver: Resolver,
    host: str,
    port: int,
    key: tuple[int, str, int],
    future: concurrent.futures.Future[list[str]],
) -> None:
    try:
        result = list(resolver(host, port))
    except BaseException as exc:
        with _lock:
            _inflight.pop(key, None)
        future.set_exception(exc if isinstance(exc, Exception) else OSError(str(exc)))
        return
    with _lock:
        _inflight.pop(key, None)
    future.set_result(result)
