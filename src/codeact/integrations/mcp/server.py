"""`execute_code` as an MCP tool, so any MCP client gets CodeAct over the host's tools.

    server = build_mcp_server(CodeAct(tools=[get_weather], limits=Limits(wall_time=10)))
    server.run()                                          # stdio
    server.run("streamable-http", host="127.0.0.1", port=8765)

or from the command line: ``codeact serve-mcp --tools my_tools:TOOLS [--http 127.0.0.1:8765]``.
Over HTTP, `serve_mcp` refuses requests whose Host or Origin header names another machine
(see `http_transport_security`), so no web page the user visits can call the tool.
The server offers one tool, `execute_code`, whose description carries the CodeAct instructions
and the typed signature of every host tool. Each call runs in a fresh sandbox with the CodeAct's
limits; the host tools run in this process, never in the sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from pydantic import Field

from ..._display import name_bytes
from ..._extras import needs_extra
from ...bridge.protocol import OutputFile
from ...errors import ConfigurationError
from ...runtime import CodeAct
from ...runtime.result import ExecutionResult
from ._progress import ProgressReporter, continued_trace
from ._rounds import ProgramGone, ProgramRounds
from ._sessions import KEPT_CLIENTS, KEPT_STATE_BYTES, RESTART_DESCRIPTION, ClientSessions
from .approvals import asking_through, asks_in_rounds, elicit_request, elicitation_unavailable

with needs_extra("mcp", "the MCP server"):
    import mcp_types
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.transport_security import TransportSecuritySettings

__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "build_mcp_server",
    "execute_code_description",
    "http_transport_security",
    "parse_http_address",
    "serve_mcp",
]

DEFAULT_PORT = 8765
#: Programs a server runs at once (as the agent loop's PARALLEL_PROGRAMS): each holds a
#: sandbox, up to its memory limit; further calls wait their turn.
DEFAULT_MAX_CONCURRENT = 4
_CODE_DESCRIPTION = (
    "A complete Python program. Print what you need to see; the value of the last line is "
    "returned too."
)


def execute_code_description(
    codeact: CodeAct, *, tool_name: str = "execute_code", sessions: bool = False
) -> str:
    """What an MCP client shows its model: how to work with the tool, then what it offers."""
    return (
        f"{codeact.tool_description(session=sessions)}\n\nHow to use it:\n"
        f"{codeact.build_instructions(session=sessions)}"
    )


def build_mcp_server(
    codeact: CodeAct,
    *,
    name: str = "codeact",
    tool_name: str = "execute_code",
    on_files: Callable[[Sequence[OutputFile]], None] | None = None,
    sessions: bool = False,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    kept_sessions: int = KEPT_CLIENTS,
    kept_state_bytes: int = KEPT_STATE_BYTES,
) -> MCPServer:
    """An MCP server with one tool, `tool_name`, that runs programs with `codeact`.

    At most `max_concurrent` programs run at once (each holds a sandbox, up to its memory
    limit); further calls wait their turn, they are not refused.

    With `sessions`, each connected client's programs share a `codeact.Session` (what one
    program defines, the next can use), and the tool takes a ``restart`` argument that starts
    the client's session over. The states of at most `kept_sessions` clients and
    `kept_state_bytes` in all are kept, the least recently used forgotten first (that client's
    next result says so); a client that ends its MCP session frees its state.

    A program that fails (raises, hits a limit) is a result with ``isError`` set and the
    traceback as its text, so the model can fix the program and try again. With
    ``CodeAct(approval_handler=McpApprover())``, gated calls are asked about through the MCP
    client of the request (elicitation; on protocol 2026-07-28 and newer, in rounds of the
    call while the program waits). Files the program writes under /output come back as images
    or embedded resources (``codeact://output/PATH``), and are also passed to `on_files` (the
    CLI saves them with ``--output-dir``).
    """
    for what, number in [
        ("max_concurrent", max_concurrent),
        ("kept_sessions", kept_sessions),
        ("kept_state_bytes", kept_state_bytes),
    ]:
        if number < 1:
            raise ValueError(f"{what} must be at least 1, not {number}")
    waiting: dict[str, ProgramRounds] = {}  # programs waiting for the next round, by state
    slots = asyncio.Semaphore(max_concurrent)

    async def capped(run: Callable[[], Awaitable[ExecutionResult]]) -> ExecutionResult:
        async with slots:  # held for the program's whole life, rounds included
            return await run()

    clients = (
        ClientSessions(codeact, kept=kept_sessions, kept_bytes=kept_state_bytes)
        if sessions
        else None
    )

    async def execute_code(
        code: Annotated[str, Field(description=_CODE_DESCRIPTION)],
        ctx: Context,
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        return await run_code(code, ctx)

    async def execute_code_in_session(
        code: Annotated[str, Field(description=_CODE_DESCRIPTION)],
        ctx: Context,
        restart: Annotated[bool, Field(description=RESTART_DESCRIPTION)] = False,
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        return await run_code(code, ctx, restart=restart)

    async def run_code(
        code: str, ctx: Context, *, restart: bool = False
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        execute: Callable[..., Awaitable[ExecutionResult]] = codeact.execute
        note = None
        if clients is not None and ctx.request_state is None:
            session, note = await clients.session_for(ctx, restart=restart)
            if session is not None:
                execute = clients.trimming_after(session.execute)
        if ctx.request_state is not None:  # a later round: answers for a waiting program
            rounds = waiting.pop(ctx.request_state, None)
            if rounds is None or rounds.code != code:
                return _error(
                    "no program is waiting for these answers (it was stopped because a question "
                    "went unanswered until the approval timeout, or the server restarted); "
                    "run it again"
                )
            rounds.answer(ctx.input_responses)
        elif asks_in_rounds(ctx) and elicitation_unavailable(ctx) is None:
            rounds = ProgramRounds(code)
            with asking_through(ctx, rounds):  # the program's task starts in this context
                rounds.start(capped(lambda: execute(code)))
        else:
            progress = ProgressReporter(ctx)  # a no-op unless the client asked for progress
            try:
                with asking_through(ctx), continued_trace(ctx):
                    # a McpApprover asks this request's client
                    result = await capped(lambda: execute(code, on_event=progress))
            finally:
                await progress.close()
            return _call_result(result, note)
        try:
            stop = await rounds.next_stop()
        except ProgramGone as exc:
            return _error(str(exc))
        if isinstance(stop, ExecutionResult):
            return _call_result(stop, note)
        waiting[rounds.state] = rounds
        rounds.on_stop(lambda: waiting.pop(rounds.state, None))
        return mcp_types.InputRequiredResult(
            input_requests={key: elicit_request(request) for key, request in stop.items()},
            request_state=rounds.state,
        )

    def _call_result(result: ExecutionResult, note: str | None = None) -> mcp_types.CallToolResult:
        text = result.to_model_text() + (f"\n{note}" if note else "")
        content: list[Any] = [mcp_types.TextContent(type="text", text=text)]
        content += [_file_content(f) for f in result.files]
        if on_files is not None and result.files:
            on_files(result.files)
        return mcp_types.CallToolResult(content=content, is_error=not result.ok)

    server: MCPServer = MCPServer(
        name,
        instructions=codeact.build_instructions(session=sessions),
        log_level="WARNING",  # stdout belongs to the protocol; keep stderr for real trouble
    )
    server.add_tool(
        execute_code_in_session if sessions else execute_code,
        name=tool_name,
        title="Run Python in a fresh sandbox",
        description=execute_code_description(codeact, tool_name=tool_name, sessions=sessions),
        annotations=mcp_types.ToolAnnotations(
            title="Run Python in a fresh sandbox",
            read_only_hint=False,
            destructive_hint=any(t.approval_mode == "always_require" for t in codeact.tools),
            idempotent_hint=False,
            open_world_hint=False,
        ),
    )
    return server


def _error(text: str) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=f"[error] {text}")], is_error=True
    )


def _file_content(file: OutputFile) -> Any:
    data = base64.b64encode(file.data).decode("ascii")
    if file.media_type.startswith("image/"):
        return mcp_types.ImageContent(type="image", data=data, mime_type=file.media_type)
    resource = mcp_types.BlobResourceContents(
        # Percent-encoded: the program chose the name (spaces, '#', '?', control characters,
        # bytes that are not UTF-8), so the name's own bytes are.
        uri=f"codeact://output/{urllib.parse.quote(name_bytes(file.path))}",
        mime_type=file.media_type,
        blob=data,
    )
    return mcp_types.EmbeddedResource(type="resource", resource=resource)


def parse_http_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (host 127.0.0.1); ``[::1]:PORT`` for IPv6."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "", text.strip()
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigurationError(
            f"--http takes HOST:PORT (e.g. 127.0.0.1:{DEFAULT_PORT}), got {text!r}"
        ) from None
    if not 0 < port < 65536:
        raise ConfigurationError(f"the port must be between 1 and 65535, got {port}")
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def http_transport_security(
    host: str, *, allow_hosts: Sequence[str] = ()
) -> TransportSecuritySettings:
    """The Host and Origin headers an HTTP server bound to `host` accepts; the MCP SDK answers
    any other Host with 421 and any other Origin with 403.

    Without these checks a web page the user visits could call the tool: by DNS rebinding (its
    own name resolving to this server, so the browser sends ``Host: evil.example``) or, for an
    address other machines can reach, by a plain cross-origin request (``Origin:
    http://evil.example``). The SDK checks only when bound to exactly 127.0.0.1, localhost or
    ::1, so this is passed for every address:

    - the bound address itself, on any port (a port forward keeps the name, not the port);
    - for a loopback address, also 127.0.0.1, localhost and [::1];
    - for 0.0.0.0 or ::, the loopback names and this machine's host name (``socket.gethostname``);
      a LAN address or any other name must be listed in `allow_hosts`;
    - each of `allow_hosts`: a name or address, on any port, or ``NAME:PORT`` for that port
      only (e.g. the name a reverse proxy forwards).

    Origins (sent by browsers) are accepted only for the same names, over http or https; a
    request without an Origin (any non-browser client) is not refused for that.
    """
    names: list[str] = []  # Host header forms, any port
    exact: list[str] = []  # HOST:PORT, that port only

    def add(name: str) -> None:
        for form in (name, name.lower()):
            if form not in names:
                names.append(form)

    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and address.is_unspecified:
        names.extend(_LOOPBACK_NAMES)
        add(socket.gethostname())
    else:
        add(_host_form(host))
        if address is not None and address.version == 6:
            add(_host_form(address.compressed))
        if is_loopback(host):
            for name in _LOOPBACK_NAMES:
                add(name)
    for spec in allow_hosts:
        name, port = _parse_allowed_host(spec)
        if port is None:
            add(name)
        else:
            exact.append(f"{name}:{port}")
            exact.append(f"{name.lower()}:{port}")
    hosts = [*names, *(f"{n}:*" for n in names), *exact]
    origins = [f"{scheme}://{h}" for scheme in ("http", "https") for h in hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


def _host_form(host: str) -> str:
    """`host` as a Host header spells it: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


def _parse_allowed_host(spec: str) -> tuple[str, int | None]:
    """``NAME``, ``ADDRESS``, ``[IPV6]``, ``NAME:PORT`` or ``[IPV6]:PORT`` -> (Host form, port)."""
    text = spec.strip()
    bad = ConfigurationError(
        f"--allow-host takes a name or address, optionally with :PORT (e.g. mcp.example.com "
        f"or 192.168.1.5:8765), got {spec!r}"
    )
    if not text or any(c in text for c in "/@?#* \t"):
        raise bad
    try:
        return _host_form(str(ipaddress.ip_address(text.strip("[]")))), None
    except ValueError:
        pass
    name, sep, port_text = text.rpartition(":")
    if not sep:
        name, port_text = text, ""
    if name.startswith("[") and name.endswith("]"):
        try:
            name = _host_form(str(ipaddress.ip_address(name[1:-1])))
        except ValueError:
            raise bad from None
    elif not name or ":" in name:
        raise bad
    if not port_text:
        return name, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise bad
    return name, int(port_text)


def serve_mcp(
    codeact: CodeAct,
    *,
    http: tuple[str, int] | None = None,
    name: str = "codeact",
    on_files: Callable[[Sequence[OutputFile]], None] | None = None,
    sessions: bool = False,
    allow_hosts: Sequence[str] = (),
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    kept_sessions: int = KEPT_CLIENTS,
    kept_state_bytes: int = KEPT_STATE_BYTES,
) -> None:
    """Serve `codeact` over stdio (default) or streamable HTTP at ``http=(host, port)``,
    path ``/mcp``; returns when the client disconnects (stdio) or on Ctrl-C (HTTP). With
    `sessions`, each client's programs share their variables (see `build_mcp_server`).

    Over HTTP, requests must name this server in their Host header (and, from a browser,
    Origin): its address, loopback names for a loopback address, or one of `allow_hosts`
    (e.g. the name a reverse proxy forwards); see `http_transport_security`."""
    security = http_transport_security(http[0], allow_hosts=allow_hosts) if http else None
    codeact.prepare_sync()  # build/compile the sandbox now, not during the client's first call
    server = build_mcp_server(
        codeact,
        name=name,
        on_files=on_files,
        sessions=sessions,
        max_concurrent=max_concurrent,
        kept_sessions=kept_sessions,
        kept_state_bytes=kept_state_bytes,
    )
    if http is None:
        server.run()
        return
    host, port = http
    server.run("streamable-http", host=host, port=port, transport_security=security)
