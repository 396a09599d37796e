"""MCP tools in the sandbox: `mcp_tools(...)` turns an MCP server's tools into codeact tools.

    async with mcp_tools("python weather_server.py") as weather, mcp_tools(URL) as maps:
        codeact = CodeAct(tools=[*weather, *maps])
        await codeact.execute('print(forecast(city="Paris"), distance(a="Paris", b="Lyon"))')

Each MCP server is one session that lives on the host, never in the sandbox: the program calls
`forecast(...)`, the host validates the arguments against the tool's JSON schema and forwards the
call to the server. A session runs on its own event loop in a private thread, so the tools work
from any loop and from `CodeAct.execute_sync` alike; close the session (`close()`, `aclose()`, or
a `with`/`async with` block) to end it. A stdio server is then stopped and its process reaped;
a session that is never closed is closed when the object is garbage-collected or at exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import shlex
import weakref
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from typing_extensions import Self

from ..._extras import needs_extra
from ..._lifecycle import Closeable
from ..._nesting import loads_within
from ...errors import ConfigurationError, IntegrationError
from ...tools import Tool
from .._adapter import python_name, unique_names

with needs_extra("mcp", "codeact's MCP support"):
    import mcp_types

    from ._session import MCPSession, make_transport

__all__ = ["MCPServerTools", "MCPToolError", "mcp_tools"]


class MCPToolError(Exception):
    """An MCP tool reported an error; the program sees it as a `ToolError` with this message."""


class MCPServerTools(Closeable):
    """One MCP server's tools as codeact `Tool`s, and the session that serves them.

    ``CodeAct(tools=[*mcp_tools(...)])``: iterate it to get the tools; close it when done.
    Also a context manager, sync and async.

    Args:
        server: An ``http(s)://`` URL (streamable HTTP), or the command that starts a stdio
            server, as one string (split like a shell would) or as a list of arguments.
        prefix: Put before every tool name (``prefix="gh_"`` gives ``gh_search``).
        include: Only these tools (by their MCP names). exclude: Not these.
        env: Environment variables for a stdio server, on top of a minimal default
            environment (the MCP SDK does not pass the host's whole environment on).
        cwd: Working directory of a stdio server.
        headers: HTTP headers for a URL server (an ``Authorization`` header, say).
        timeout: Seconds one call may take (default: the execution's `Limits.tool_timeout`).
        connect_timeout: Seconds to wait for the server to start and list its tools.

    The server is contacted when the tools are first needed (iterating, `.tools`, or entering
    a ``with``/``async with`` block), not when it is made.
    """

    def __init__(
        self,
        server: str | Sequence[str],
        *,
        prefix: str = "",
        include: Collection[str] | None = None,
        exclude: Collection[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        self.target = _describe_target(server)
        self._transport = make_transport(server, env=env, cwd=cwd, headers=headers)
        if prefix and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
            raise ConfigurationError(
                f"prefix must be made of letters, digits and _, got {prefix!r}"
            )
        self.prefix = prefix
        self.include = frozenset(include) if include is not None else None
        self.exclude = frozenset(exclude)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._session = MCPSession(self._transport, self.target)
        self._finalizer = weakref.finalize(self, self._session.close)
        self._tools: list[Tool] | None = None
        self.instructions: str | None = None  # what the server says about itself, if anything

    # -- the tools -----------------------------------------------------------------------------
    @property
    def tools(self) -> list[Tool]:
        """The server's tools (connecting to it first if needed)."""
        if self._tools is None:
            self.connect()
        assert self._tools is not None
        return list(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools)

    def __len__(self) -> int:
        return len(self.tools)

    # -- lifecycle -----------------------------------------------------------------------------
    def connect(self) -> Self:
        """Start (or reach) the server and list its tools; does nothing if already connected."""
        self._check_open()
        if self._tools is None:
            future = self._session.open()
            try:
                listing = future.result(timeout=self.connect_timeout)
            except concurrent.futures.TimeoutError:
                self._session.close()
                raise self._no_answer() from None
            self._adopt(listing)
        return self

    async def aconnect(self) -> Self:
        """`connect` without blocking the running event loop."""
        self._check_open()
        if self._tools is None:
            future = self._session.open()
            try:
                listing = await asyncio.wait_for(
                    asyncio.wrap_future(future), timeout=self.connect_timeout
                )
            except asyncio.TimeoutError:
                await asyncio.to_thread(self._session.close)
                raise self._no_answer() from None
            self._adopt(listing)
        return self

    def _no_answer(self) -> IntegrationError:
        return IntegrationError(
            f"the MCP server {self.target} did not answer within "
            f"{self.connect_timeout:g}s (connect_timeout)"
        )

    def close(self) -> None:
        """End the session: a stdio server is stopped and its process reaped. Idempotent."""
        self._finalizer()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> Self:
        return self.connect()

    async def __aenter__(self) -> Self:
        return await self.aconnect()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("connected" if self._tools is not None else "new")
        return f"<MCPServerTools {self.target} ({state})>"

    # -- helpers -------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise IntegrationError(f"the session with the MCP server {self.target} is closed")

    def _adopt(self, listing: tuple[list[mcp_types.Tool], str | None]) -> None:
        mcp_list, self.instructions = listing
        unknown = (self.include or frozenset()) - {t.name for t in mcp_list}
        if unknown:
            self.close()
            raise ConfigurationError(
                f"the MCP server {self.target} has no tool named {', '.join(sorted(unknown))}; "
                f"its tools are: {', '.join(t.name for t in mcp_list) or '(none)'}"
            )
        chosen = [
            spec
            for spec in mcp_list
            if (self.include is None or spec.name in self.include) and spec.name not in self.exclude
        ]
        try:
            unique_names(
                (self.prefix + spec.name for spec in chosen),
                framework=f"MCP server {self.target}",
                fix="leave one out with exclude=[...] (or pick with include=[...])",
            )
        except ConfigurationError:
            self.close()
            raise
        self._tools = [self._make_tool(spec) for spec in chosen]

    def _make_tool(self, spec: mcp_types.Tool) -> Tool:
        name = python_name(self.prefix + spec.name)
        unwrap = _is_wrapped(spec.output_schema)
        returns = spec.output_schema
        if unwrap and returns is not None:
            returns = {**returns["properties"]["result"], "$defs": returns.get("$defs", {})}
        session, mcp_name = self._session, spec.name

        async def call(**arguments: Any) -> Any:
            return _result_value(await session.call(mcp_name, arguments), unwrap=unwrap)

        call.__name__ = name
        description = spec.description or spec.title or ""
        return Tool.from_schema(
            name,
            spec.input_schema,
            call,
            description=description,
            returns=returns,
            timeout=self.timeout,
        )


def _describe_target(server: str | Sequence[str]) -> str:
    text = server if isinstance(server, str) else shlex.join(str(a) for a in server)
    text = re.sub(r"//[^/@]*@", "//", text)  # never show credentials in a URL
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _is_wrapped(output_schema: Mapping[str, Any] | None) -> bool:
    """Whether results come wrapped as ``{"result": value}``: what Python MCP servers do for a
    tool that returns a non-object value. A tool's own output model may have one field named
    ``result`` too, so the server's wrap marker decides: FastMCP's ``x-fastmcp-wrap-result``,
    or the MCP SDK's wrapper model, titled ``<function>Output`` (a model of one's own keeps
    its own title)."""
    if not output_schema:
        return False
    props = output_schema.get("properties")
    if not isinstance(props, Mapping) or set(props) != {"result"}:
        return False
    if output_schema.get("x-fastmcp-wrap-result") is True:
        return True
    title = output_schema.get("title")
    return isinstance(title, str) and title.endswith("Output") and len(title) > len("Output")


def _result_value(result: mcp_types.CallToolResult, *, unwrap: bool) -> Any:
    """The result of an MCP call as the program sees it (or MCPToolError for an error)."""
    texts = [c.text for c in result.content if isinstance(c, mcp_types.TextContent)]
    if result.is_error:
        raise MCPToolError("\n".join(texts) or "the MCP tool reported an error")
    if result.structured_content is not None:
        value = result.structured_content
        if unwrap and isinstance(value, dict) and set(value) == {"result"}:
            return value["result"]
        return value
    if len(texts) == len(result.content):
        text = "\n".join(texts)
        if text.lstrip().startswith(("{", "[")):
            # Servers without an output schema send dicts and lists as JSON text.
            try:
                return loads_within(text)
            except ValueError:  # not JSON, or nested too deep: the text
                pass
        return text
    return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content]


#: The tools of one MCP server: ``CodeAct(tools=[*mcp_tools("python server.py")])``.
mcp_tools = MCPServerTools
