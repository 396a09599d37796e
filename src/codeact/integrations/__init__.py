"""Integrations with other agent stacks; each module needs its own extra.

- `codeact.integrations.agent_framework`: a drop-in CodeAct provider for Microsoft Agent
  Framework (``pip install -e '.[agent-framework]'``).
- `codeact.integrations.mcp_client`: an MCP server's tools as sandbox tools (`mcp_tools`).
- `codeact.integrations.mcp_server`: `execute_code` served over MCP (``codeact serve-mcp``).

The MCP modules need ``pip install -e '.[mcp]'``. Nothing here is imported by ``codeact``
itself, so the core never needs these packages.
"""
