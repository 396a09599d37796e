"""`execute_code` as an MCP tool, so any MCP client gets CodeAct over the host's tools.

    server = build_mcp_server(CodeAct(tools=[get_weather], limits=Limits(wall_time=10)))
    server.run()                                          # stdio
    server.run("streamable-http", host="127.0.0.1", port=8765)

or from the command line: ``codeact serve-mcp --tools my_tools:TOOLS [--http 127.0.0.1:8765]``.
The server offers one tool, `execute_code`, whose description carries the CodeAct instructions
and the typed signature of every host tool. Each call runs in a fresh sandbox with the CodeAct's
limits; the host tools run in this process, never in the sandbox.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import Field

from ...bridge.protocol import OutputFile
from ...errors import ConfigurationError
from ...runtime import CodeAct
from ...runtime.result import ExecutionResult
from ._progress import ProgressReporter, continued_trace
from ._rounds import ProgramGone, ProgramRounds
from .approvals import asking_through, asks_in_rounds, elicit_request, elicitation_unavailable

try:
    import mcp_types
    from mcp.server.mcpserver import Context, MCPServer
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the MCP server needs the `mcp` package: pip install 'codeact[mcp]'") from exc

__all__ = ["build_mcp_server", "execute_code_description", "parse_http_address", "serve_mcp"]

DEFAULT_PORT = 8765
_CODE_DESCRIPTION = (
    "A complete Python program. Print what you need to see; the value of the last line is "
    "returned too."
)


def execute_code_description(codeact: CodeAct, *, tool_name: str = "execute_code") -> str:
    """What an MCP client shows its model: how to work with the tool, then what it offers."""
    return f"{codeact.tool_description()}\n\nHow to use it:\n{codeact.build_instructions()}"


def build_mcp_server(
    codeact: CodeAct,
    *,
    name: str = "codeact",
    tool_name: str = "execute_code",
    on_files: Callable[[Sequence[OutputFile]], None] | None = None,
) -> MCPServer:
    """An MCP server with one tool, `tool_name`, that runs programs with `codeact`.

    A program that fails (raises, hits a limit) is a result with ``isError`` set and the
    traceback as its text, so the model can fix the program and try again. With
    ``CodeAct(approval_handler=McpApprover())``, gated calls are asked about through the MCP
    client of the request (elicitation; on protocol 2026-07-28 and newer, in rounds of the
    call while the program waits). Files the program writes under /output come back as images
    or embedded resources (``codeact://output/PATH``), and are also passed to `on_files` (the
    CLI saves them with ``--output-dir``).
    """
    waiting: dict[str, ProgramRounds] = {}  # programs waiting for the next round, by state

    async def execute_code(
        code: Annotated[str, Field(description=_CODE_DESCRIPTION)],
        ctx: Context,
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
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
                rounds.start(codeact.execute(code))
        else:
            progress = ProgressReporter(ctx)  # a no-op unless the client asked for progress
            try:
                with asking_through(ctx), continued_trace(ctx):
                    # a McpApprover asks this request's client
                    result = await codeact.execute(code, on_event=progress)
            finally:
                await progress.close()
            return _call_result(result)
        try:
            stop = await rounds.next_stop()
        except ProgramGone as exc:
            return _error(str(exc))
        if isinstance(stop, ExecutionResult):
            return _call_result(stop)
        waiting[rounds.state] = rounds
        rounds.on_stop(lambda: waiting.pop(rounds.state, None))
        return mcp_types.InputRequiredResult(
            input_requests={key: elicit_request(request) for key, request in stop.items()},
            request_state=rounds.state,
        )

    def _call_result(result: ExecutionResult) -> mcp_types.CallToolResult:
        content: list[Any] = [mcp_types.TextContent(type="text", text=result.to_model_text())]
        content += [_file_content(f) for f in result.files]
        if on_files is not None and result.files:
            on_files(result.files)
        return mcp_types.CallToolResult(content=content, is_error=not result.ok)

    server: MCPServer = MCPServer(
        name,
        instructions=codeact.build_instructions(),
        log_level="WARNING",  # stdout belongs to the protocol; keep stderr for real trouble
    )
    server.add_tool(
        execute_code,
        name=tool_name,
        title="Run Python in a fresh sandbox",
        description=execute_code_description(codeact, tool_name=tool_name),
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
        uri=f"codeact://output/{file.path}", mime_type=file.media_type, blob=data
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


def serve_mcp(
    codeact: CodeAct,
    *,
    http: tuple[str, int] | None = None,
    name: str = "codeact",
    on_files: Callable[[Sequence[OutputFile]], None] | None = None,
) -> None:
    """Serve `codeact` over stdio (default) or streamable HTTP at ``http=(host, port)``,
    path ``/mcp``; returns when the client disconnects (stdio) or on Ctrl-C (HTTP)."""
    codeact.prepare()  # build/compile the sandbox now, not during the client's first call
    server = build_mcp_server(codeact, name=name, on_files=on_files)
    if http is None:
        server.run()
        return
    host, port = http
    kwargs: dict[str, Any] = {"host": host, "port": port}
    server.run("streamable-http", **kwargs)
