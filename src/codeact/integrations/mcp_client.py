"""MCP tools in the sandbox: `mcp_tools(...)` turns an MCP server's tools into codeact tools
(see `codeact.integrations.mcp.client`)."""

from __future__ import annotations

from .mcp.client import MCPServerTools, MCPToolError, mcp_tools

__all__ = ["MCPServerTools", "MCPToolError", "mcp_tools"]
