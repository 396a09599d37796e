"""Sandbox refusals that explain themselves: a thread, a socket or a name lookup that the
sandbox refuses says why (with EACCES), and what to do instead.

Runs inside the sandbox; imports only the standard library.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

__all__ = ["explain_refusals", "single_thread_waits"]

_NO_NETWORK = (
    "no network in the sandbox; grant hosts with allowed_domains=[...] and reach them with "
    "http_get()/http_request() or urllib.request"
)
_NO_THREADS = (
    "threads are not available in the sandbox; for concurrent tool calls use "
    "asyncio.gather(call_tool_async(...), ...)"
)
_THREAD_LIMIT = (
    "can't start new thread: the sandbox's limits are reached (each thread's stack counts "
    "against its memory limit, and its threads are bounded); start fewer threads at once "
    "(a pool: concurrent.futures.ThreadPoolExecutor(max_workers=4)), or for concurrent tool "
    "calls use asyncio.gather(call_tool_async(...), ...)"
)
_FOREVER = (
    "this would wait forever: the sandbox runs one thread, so nothing can release the lock, "
    "set the event or fill the queue it waits on; give it a timeout, or for concurrent tool "
    "calls use asyncio.gather(call_tool_async(...), ...)"
)


def explain_refusals() -> None:
    """Threads, sockets and name lookups that the sandbox refuses say so (with EACCES), not a
    bare "can't start new thread", an OSError whose errno means "no such file" or a failed
    DNS lookup that reads as a network outage worth retrying."""
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
    _refuse_lookups(socket)


#: The socket module's name lookups. The sandbox has no resolver on any backend (with
#: allowed_domains too: the host resolves the names of the requests it sends), and left
#: alone each backend fails in its own way (WASI's "Non-recoverable error", the jail's
#: "Temporary failure in name resolution"), none saying why. `socket.create_connection`
#: and `http.client` look names up first, so they meet this refusal too.
_LOOKUPS = (
    ("getaddrinfo", "gaierror"),
    ("gethostbyname", "gaierror"),
    ("gethostbyname_ex", "gaierror"),
    ("getnameinfo", "gaierror"),
    ("gethostbyaddr", "herror"),
)


def _refuse_lookups(socket: Any) -> None:
    for name, error_name in _LOOKUPS:
        original = getattr(socket, name, None)
        if original is None or getattr(original, "_codeact", False):
            continue
        # Also the error the lookup raises: `except socket.gaierror` handles it as before.
        error = type("PermissionError", (_Refused, getattr(socket, error_name)), {})
        error.__module__ = "builtins"
        setattr(socket, name, _refused_lookup(error))


def _refused_lookup(error: type[OSError]) -> Any:
    def lookup(*args: Any, **kwargs: Any) -> Any:
        raise error(errno.EACCES, _NO_NETWORK)

    lookup._codeact = True  # type: ignore[attr-defined]
    return lookup


class _Refused(PermissionError):
    """A PermissionError that shows its errno by name: WASI numbers EACCES 2, which reads as
    ENOENT to anyone used to Linux."""

    def __str__(self) -> str:
        name = errno.errorcode.get(self.errno, self.errno) if self.errno is not None else None
        return f"[{name}] {self.strerror}"


_Refused.__name__ = _Refused.__qualname__ = "PermissionError"
_Refused.__module__ = "builtins"


def _explained_thread_start(original: Any) -> Any:
    # A WASI CPython never starts a thread; elsewhere (the jail) threads work until a limit.
    import sys

    refusal = _NO_THREADS if sys.platform == "wasi" else _THREAD_LIMIT

    def start(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except RuntimeError as exc:
            if "thread" not in str(exc):
                raise
            raise RuntimeError(refusal) from None

    start._codeact = True  # type: ignore[attr-defined]
    return start


def single_thread_waits(sleep: Callable[[float], None]) -> None:
    """For a guest that runs one thread (wasm): a wait nothing can end raises RuntimeError at
    the call, and a timed wait sleeps with `sleep` (the sandbox's, bounded by the wall time).

    Such a CPython aborts when a lock it waits on is held (a second ``Lock().acquire()``,
    ``Queue().get()``, ``Event().wait()``: the run ended with a bare wasm trap), and a timed
    wait returned at once (``Event().wait(100)`` gave False without waiting). Locks made by
    `threading` (and so its Condition, Event, Semaphore, Barrier and `queue`) are patched;
    the interpreter's own (imports) are left alone: they are never waited on here.
    """
    import threading

    if getattr(threading.Lock, "_codeact", False):
        return
    make = threading._allocate_lock  # type: ignore[attr-defined]

    class lock:
        """`_thread.lock`, but a wait it cannot win raises or sleeps instead of aborting."""

        __slots__ = ("__weakref__", "_lock")
        _codeact = True

        def __init__(self) -> None:
            self._lock = make()

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if not blocking and timeout != -1:
                raise ValueError("can't specify a timeout for a non-blocking call")
            if timeout < 0 and timeout != -1:
                raise ValueError("timeout value must be a non-negative number")
            if self._lock.acquire(False):
                return True
            if not blocking:
                return False
            if timeout == -1:
                raise RuntimeError(_FOREVER)
            sleep(timeout)  # one thread: nothing can release it meanwhile
            return False

        def release(self) -> None:
            self._lock.release()

        def locked(self) -> bool:
            return bool(self._lock.locked())

        def __enter__(self) -> bool:
            return self.acquire()

        def __exit__(self, *exc: object) -> None:
            self._lock.release()

        def _at_fork_reinit(self) -> None:
            self._lock._at_fork_reinit()

        def __repr__(self) -> str:
            state = "locked" if self._lock.locked() else "unlocked"
            return f"<{state} _thread.lock object at {id(self):#x}>"

        acquire_lock, release_lock, locked_lock = acquire, release, locked

    lock.__module__ = "_thread"
    threading.Lock = threading._allocate_lock = lock  # type: ignore[assignment, attr-defined]
    try:
        import queue
    except ImportError:
        return
    # The C SimpleQueue waits as the C lock does; the pure-Python one waits on `lock`.
    queue.SimpleQueue = getattr(queue, "_PySimpleQueue", queue.SimpleQueue)  # type: ignore[misc]
