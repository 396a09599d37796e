"""`execute_code` as an MCP tool, so any MCP client gets CodeAct over the host's tools
(see `codeact.integrations.mcp.server`). Needs ``pip install -e '.[mcp]'``."""

from __future__ import annotations

from .mcp.server import (
    build_mcp_server,
    execute_code_description,
    http_transport_security,
    parse_http_address,
    serve_mcp,
)

__all__ = [
    "build_mcp_server",
    "execute_code_description",
    "http_transport_security",
    "parse_http_address",
    "serve_mcp",
]
