"""Integrations with other agent stacks; each module needs its own extra.

- `codeact.integrations.agent_framework`: a drop-in CodeAct provider for Microsoft Agent
  Framework (``pip install -e '.[agent-framework]'``).
- `codeact.integrations.mcp_client`: an MCP server's tools as sandbox tools (`mcp_tools`).
- `codeact.integrations.mcp_server`: `execute_code` served over MCP (``codeact serve-mcp``).
- `codeact.integrations.mcp_approvals`: approvals asked through the MCP client (`McpApprover`).
- `codeact.integrations.langchain`: `CodeActTool`, a LangChain `BaseTool` for LangChain agents
  and LangGraph graphs (``pip install -e '.[langchain]'``).
- `codeact.integrations.pydantic_ai`: `CodeActToolset` for Pydantic AI
  (``pip install -e '.[pydantic-ai]'``).
- `codeact.integrations.openai_agents`: `codeact_tool()`, a `FunctionTool` for the OpenAI Agents
  SDK (``pip install -e '.[openai-agents]'``).
- `codeact.integrations.fastmcp`: `CodeActSandboxProvider` for FastMCP's `CodeMode`
  (``pip install -e '.[fastmcp]'``).
- `codeact.integrations.smolagents`: `CodeActExecutor`, the Python executor of smolagents'
  `CodeAgent` (``pip install -e '.[smolagents]'``).

Each is a face: `agent_framework/` and `mcp/` hold the parts behind it.

The MCP modules need ``pip install -e '.[mcp]'``; each command runs in the codeact checkout
(codeact is on no package index), and a module imported without its extra says which to
install (`codeact._extras`). Nothing here is imported by ``codeact`` itself, so the core
never needs these packages.
"""
