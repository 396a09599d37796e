"""MCP both ways (``pip install -e '.[mcp]'``); import the part you need.

- `client`: an MCP server's tools as sandbox tools (`mcp_tools`); public as
  `codeact.integrations.mcp_client`.
- `server`: `execute_code` served over MCP (``codeact serve-mcp``); public as
  `codeact.integrations.mcp_server`.
- `approvals`: approvals asked through the MCP client (`McpApprover`); public as
  `codeact.integrations.mcp_approvals`.

Private parts: `_session` (a client session on its own loop) and `_rounds` (a program that
waits across rounds of one MCP call). Nothing is imported here, so each part pulls in only
what it needs; this package checks only that the extra is there (every part needs
`mcp_types`), so a missing one is one line saying what to install.
"""

from ..._extras import needs_extra

with needs_extra("mcp", "codeact's MCP support"):
    import mcp_types  # noqa: F401
