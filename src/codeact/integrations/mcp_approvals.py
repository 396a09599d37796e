"""Approvals for programs run by an MCP server: ask the person through their MCP client
(see `codeact.integrations.mcp.approvals`). Needs ``pip install -e '.[mcp]'``."""

from __future__ import annotations

from .mcp.approvals import McpApprover, asking_through, asks_in_rounds, elicit_request

__all__ = ["McpApprover", "asking_through", "asks_in_rounds", "elicit_request"]
