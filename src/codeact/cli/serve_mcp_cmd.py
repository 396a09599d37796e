"""`codeact serve-mcp`: serve `execute_code` over MCP, with tools from a Python module."""

from __future__ import annotations

import errno
import functools
import socket
from collections.abc import Sequence
from pathlib import Path

import click

from .._extras import missing_extra
from ..bridge.protocol import OutputFile
from ..calls.approvals import ApprovalHandler
from ..calls.audit import JsonlAudit
from ..errors import CodeActError, UserError
from ..runtime import CodeAct
from ..tools import ToolSet
from .approval_options import (
    approval_handler_for,
    approval_options,
    ready_audit,
    terminal_approver,
)
from .common import handle_errors, limits_from_options, limits_options, load_tools, note
from .grant_options import (
    grant_options,
    parse_domain,
    parse_mount,
    ready_output_dir,
    renamed_note,
    save_files,
)
from .host_files import open_for_append, pin
from .packages_cmd import check_package_options, package_options
from .params import Number
from .progress import show_progress
from .stdio_serving import interruptible_stdio

__all__ = ["serve_mcp_command"]


@click.command("serve-mcp")
@click.option(
    "--tools",
    "tool_specs",
    multiple=True,
    metavar="MODULE:ATTR",
    help="Tools the programs may call: MODULE:ATTR (a list of tools), a module, or a .py file "
    "(every @tool in it). Repeat to combine.",
)
@click.option(
    "--http",
    "http_address",
    default=None,
    metavar="HOST:PORT",
    help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME[:PORT]",
    help="With --http, also serve requests whose Host (and browser Origin) names NAME: the "
    "name a reverse proxy forwards, or a LAN address of a 0.0.0.0 server; NAME:PORT for that "
    "port only. Repeat for more. Requests naming other hosts are refused (421/403), so web "
    "pages cannot call the server (DNS rebinding).",
)
@click.option(
    "--backend", default="auto", show_default=True, help="Sandbox backend (see codeact doctor)."
)
@click.option("--name", default="codeact", show_default=True, help="The server's MCP name.")
@click.option(
    "--sessions",
    is_flag=True,
    help="Each MCP client's programs share their variables, functions and imports (a "
    "codeact session per client connection); execute_code then takes restart=true to start "
    "over.",
)
@click.option(
    "--max-concurrent",
    type=Number(int, low=1, high=10_000, what="a whole number"),
    default=4,  # the server's DEFAULT_MAX_CONCURRENT (that module needs `mcp` to import)
    show_default=True,
    metavar="N",
    help="Run at most N programs at once (each holds a sandbox, up to --memory-mb); further "
    "calls wait their turn.",
)
@click.option(
    "--kept-sessions",
    type=Number(int, low=1, high=1_000_000, what="a whole number"),
    default=256,  # the server's KEPT_CLIENTS
    show_default=True,
    metavar="N",
    help="With --sessions, keep the state of at most N clients; the least recently used is "
    "forgotten first (its next result says so).",
)
@click.option(
    "--kept-state-mb",
    type=Number(int, low=1, high=1 << 20, what="a whole number of MiB"),
    default=256,  # the server's KEPT_STATE_BYTES
    show_default=True,
    metavar="MB",
    help="With --sessions, keep at most MB MiB of state for all clients together (each "
    "one's is at most the state limit); the least recently used is forgotten first.",
)
@limits_options
@grant_options
@package_options
@approval_options
@handle_errors
def serve_mcp_command(
    tool_specs: tuple[str, ...],
    http_address: str | None,
    allow_hosts: tuple[str, ...],
    backend: str,
    name: str,
    sessions: bool,
    max_concurrent: int,
    kept_sessions: int,
    kept_state_mb: int,
    timeout: float | None,
    memory_mb: int | None,
    max_output: int | None,
    mounts: tuple[str, ...],
    workspace: Path | None,
    allow_domains: tuple[str, ...],
    output_dir: Path | None,
    packages: tuple[str, ...],
    wheelhouse: Path | None,
    approve: str | None,
    audit_path: Path | None,
) -> None:
    """Serve one MCP tool, execute_code, that runs Python in a fresh sandbox per call.

    Over stdio by default (for an MCP client that starts this command), or over streamable
    HTTP with --http. The tools run in this process; the programs only call them. The
    limits and grants (--timeout, --memory, --mount, --workspace, --allow-domain) are those
    of `codeact exec` and apply to every call.

    Calls of tools that need approval are asked about through the MCP client (elicitation)
    when it supports that, and denied otherwise; --approve ask also asks on this server's
    terminal (/dev/tty) when the client cannot; all approves them; none denies them.
    """
    try:
        from ..integrations.mcp.server import (
            http_transport_security,
            is_loopback,
            parse_http_address,
            serve_mcp,
        )
        from ..integrations.mcp_approvals import McpApprover
    except ImportError as exc:
        raise missing_extra("codeact serve-mcp", "mcp", exc) from None
    tools = load_tools(tool_specs)
    check_package_options(packages, wheelhouse)
    # Files written on the host while programs that may change read-write mounts run: each
    # path resolved now, no link inside such a mount followed (host_files).
    file_mounts = [parse_mount(spec) for spec in mounts]
    if audit_path is not None:
        audit_path = pin(audit_path, "--audit", file_mounts, inside_ok=False)
    ready_audit(audit_path)
    handler: ApprovalHandler
    terminal = None
    if approve in ("all", "none"):
        handler = approval_handler_for(approve, program_from_stdin=True)
    else:
        if approve == "ask":
            terminal = terminal_approver(name="serve-mcp --approve ask (terminal)")
        handler = McpApprover(fallback=terminal, advice=_advice(approve))
    _announce_approvals(tools, approve, terminal_too=terminal is not None)
    limits = limits_from_options(timeout, memory_mb, max_output)
    http = parse_http_address(http_address) if http_address is not None else None
    if allow_hosts and http is None:
        raise UserError("--allow-host applies to --http only")
    if http is not None:
        http_transport_security(http[0], allow_hosts=allow_hosts)  # a bad NAME: one line
        _check_can_listen(*http)
    on_files = None
    if output_dir is not None:
        directory = ready_output_dir(pin(output_dir, "--output-dir", file_mounts))

        def on_files(files: Sequence[OutputFile]) -> None:
            # The client gets the result and the files whatever happens here; the log says
            # where files went that could not keep their names, and which were not saved.
            try:
                saved = save_files(files, directory)
            except CodeActError as exc:
                note(str(exc))
                return
            renamed = renamed_note(saved, directory)
            if renamed:
                note(f"saved {len(saved)} file(s) to {directory}{renamed}")

    with CodeAct(
        tools=list(tools),
        limits=limits,
        backend=backend,
        file_mounts=file_mounts,
        workspace_root=workspace,
        allowed_domains=[parse_domain(spec) for spec in allow_domains],
        approval_handler=handler,
        audit=JsonlAudit(open_for_append(audit_path)) if audit_path is not None else None,
        packages=packages,
        packages_wheelhouse=wheelhouse,
    ) as codeact:
        with show_progress():
            codeact.prepare_sync()  # before serving: a client's first call does not wait
        if http is not None:
            host, port = http
            shown = f"[{host}]" if ":" in host else host
            click.echo(
                f"codeact: serving execute_code at http://{shown}:{port}/mcp "
                f"(tools: {tools.describe_names()}; {limits!r})",
                err=True,
            )
            if not is_loopback(host):
                click.echo(
                    f"codeact: warning: {host} is not a loopback address; anyone who can reach "
                    "it can run programs that call your tools",
                    err=True,
                )
            if host in ("0.0.0.0", "::"):
                click.echo(
                    "codeact: requests must name this machine by a loopback name or its host "
                    "name; add --allow-host ADDRESS to reach it by a LAN address",
                    err=True,
                )
        serve = functools.partial(
            serve_mcp,
            codeact,
            name=name,
            on_files=on_files,
            sessions=sessions,
            max_concurrent=max_concurrent,
            kept_sessions=kept_sessions,
            kept_state_bytes=kept_state_mb << 20,
        )
        if http is not None:
            serve(http=http, allow_hosts=allow_hosts)
        else:
            with interruptible_stdio():
                serve()


def _advice(approve: str | None) -> str:
    """What a denial for want of anyone to ask says to do."""
    if approve == "ask":
        return (
            "this server has no terminal (/dev/tty) to ask on either; use a client that "
            "supports elicitation, or start codeact serve-mcp with --approve all"
        )
    return (
        "start codeact serve-mcp with --approve ask to ask on the server's terminal, or with "
        "--approve all to allow these calls"
    )


def _announce_approvals(tools: ToolSet, approve: str | None, *, terminal_too: bool) -> None:
    gated = [t.name for t in tools if t.approval_mode == "always_require"]
    if not gated:
        return
    how = {
        "all": "approved (--approve all)",
        "none": "denied (--approve none)",
    }.get(approve or "", "asked through the MCP client (elicitation), ")
    if approve not in ("all", "none"):
        how += "else on this terminal" if terminal_too else "else denied"
    click.echo(f"codeact: calls of {', '.join(gated)} need approval: {how}", err=True)


def _check_can_listen(host: str, port: int) -> None:
    """Bind HOST:PORT once before anything is announced: a port in use or an address that is
    not this machine's is a one-line usage error, not "serving at ..." followed by the web
    server's own ERROR line and its exit status 3."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise UserError(f"--http {shown}: cannot resolve {host!r} ({exc})") from None
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            hint = f"choose another port, e.g. --http {host}:{port + 1 if port < 65535 else 8765}"
        elif exc.errno == errno.EADDRNOTAVAIL:
            hint = "give an address of this machine, e.g. 127.0.0.1"
        elif exc.errno == errno.EACCES:
            hint = "ports below 1024 need privileges; choose a port such as 8765"
        else:
            hint = "choose another address or port"
        raise UserError(f"--http {shown}: cannot listen there ({reason}); {hint}") from None
