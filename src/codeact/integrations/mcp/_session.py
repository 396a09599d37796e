"""The MCP client session behind `mcp_tools`: one server, on a private event-loop thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import shlex
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
import mcp
import mcp_types
from mcp.client.streamable_http import streamable_http_client

from ...errors import ConfigurationError, IntegrationError
from ...runtime._sync import LoopThread

__all__ = ["CLOSE_TIMEOUT", "MCPSession", "connect_error", "make_transport"]

#: How long `close()` waits for a session to end before it gives up on it.
CLOSE_TIMEOUT = 10.0


class MCPSession:
    """The MCP client session of one server, running on a private event loop thread.

    The MCP SDK's sessions are bound to the loop (and the task) that opened them, so one task on
    a loop of our own owns the session from start to end; calls from any loop are forwarded to it.
    """

    def __init__(self, transport: Any, target: str) -> None:
        self._transport = transport
        self._target = target
        self._thread: LoopThread | None = None
        self._client: mcp.Client | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._future: concurrent.futures.Future[Any] | None = None
        self._closed = False
        self._opening = threading.Lock()

    def open(self) -> concurrent.futures.Future[tuple[list[mcp_types.Tool], str | None]]:
        with self._opening:  # one loop thread and one connection, whichever threads ask at once
            if self._closed:
                raise IntegrationError(f"the session with the MCP server {self._target} is closed")
            if self._future is None:
                self._thread = LoopThread(name="codeact-mcp")
                self._future = self._thread.submit(self._start())
            return self._future

    async def _start(self) -> tuple[list[mcp_types.Tool], str | None]:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[tuple[list[mcp_types.Tool], str | None]] = loop.create_future()
        self._stop = asyncio.Event()
        self._task = loop.create_task(self._serve(ready))
        return await ready

    async def _serve(self, ready: asyncio.Future[Any]) -> None:
        # One task enters and leaves the client: its anyio task groups demand it.
        try:
            async with self._transport() as client:
                tools: list[mcp_types.Tool] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
                self._client = client
                ready.set_result((tools, client.instructions))
                assert self._stop is not None
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(connect_error(exc, self._target))
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            self._client = None

    async def call(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """Call tool `name` from any event loop."""
        thread, client = self._thread, self._client
        if self._closed or thread is None or client is None:
            raise IntegrationError(f"the MCP server {self._target} is not connected")
        future = thread.submit(self._call(client, name, arguments))
        result: mcp_types.CallToolResult = await asyncio.wrap_future(future)
        return result

    @staticmethod
    async def _call(client: mcp.Client, name: str, arguments: dict[str, Any]) -> Any:
        return await client.call_tool(name, arguments)

    def close(self) -> None:
        with self._opening:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        try:
            thread.submit(self._finish()).result(timeout=CLOSE_TIMEOUT)
        except Exception:
            pass  # the session failed already or would not stop: the loop goes anyway
        finally:
            thread.close()

    async def _finish(self) -> None:
        if self._stop is not None:
            self._stop.set()
        task = self._task
        if task is None:
            return
        if self._client is None:
            # Still connecting (a server that never answers): there is no session to end
            # politely. Cancelling leaves the client's context, which stops a stdio server's
            # process; left running, it outlived the program and held the interpreter's exit.
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)


def make_transport(
    server: str | Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | Path | None,
    headers: Mapping[str, str] | None,
) -> Any:
    """A factory of async context managers that give a connected `mcp.Client` for `server`
    (called, entered and left by the session's own task)."""
    if isinstance(server, str) and re.match(r"https?://", server, re.IGNORECASE):
        if env is not None or cwd is not None:
            raise ConfigurationError("env and cwd apply to stdio servers, not to a URL")
        return _http_transport(server, dict(headers) if headers else None)
    if headers is not None:
        raise ConfigurationError("headers apply to a URL server, not to a stdio command")
    argv = shlex.split(server) if isinstance(server, str) else [str(a) for a in server]
    if not argv:
        raise ConfigurationError("the MCP server command is empty")
    params = mcp.StdioServerParameters(
        command=argv[0],
        args=argv[1:],
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )
    return lambda: mcp.Client(params)


def _http_transport(url: str, headers: dict[str, str] | None) -> Any:
    """Connect over streamable HTTP with the initialize handshake (protocol 2025-11-25 and
    older), the protocol that has MCP sessions: a server that keeps state per client
    (``serve-mcp --sessions``) knows this client by its ``Mcp-Session-Id``, as one
    `mcp_tools` is one session. The SDK's default would pick the stateless 2026-07-28
    protocol where a server offers it, and then no call is known to come from this client.
    A server that refuses the handshake is reached with the newest protocol both speak."""

    def client(mode: str) -> contextlib.AbstractAsyncContextManager[mcp.Client]:
        if not headers:
            return mcp.Client(url, mode=mode)
        return _with_headers(url, headers, mode)

    @contextlib.asynccontextmanager
    async def connect() -> AsyncIterator[mcp.Client]:
        async with contextlib.AsyncExitStack() as stack:
            try:
                opened = await stack.enter_async_context(client("legacy"))
            except Exception:
                opened = await stack.enter_async_context(client("auto"))
            yield opened

    return connect


@contextlib.asynccontextmanager
async def _with_headers(url: str, headers: dict[str, str], mode: str) -> AsyncIterator[mcp.Client]:
    timeout = httpx2.Timeout(30.0, read=300.0)  # the SDK's own defaults
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        transport = streamable_http_client(url, http_client=http)
        async with mcp.Client(transport, mode=mode) as client:
            yield client


def connect_error(exc: BaseException, target: str) -> BaseException:
    if isinstance(exc, FileNotFoundError):
        return ConfigurationError(f"cannot start the MCP server {target}: {exc.strerror}")
    inner = getattr(exc, "exceptions", None)  # an exception group from anyio's task groups
    if isinstance(inner, tuple) and inner and isinstance(inner[0], BaseException):
        return connect_error(inner[0], target)
    return IntegrationError(
        f"could not connect to the MCP server {target}: {type(exc).__name__}: {exc}"
    )
