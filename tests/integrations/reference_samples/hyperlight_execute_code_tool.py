"""A script written for agent-framework-hyperlight's standalone tool, in the style of its docs.

`HyperlightExecuteCodeTool` goes straight into the agent's tools next to a direct-only tool,
with the CodeAct instructions built once ("manual static wiring"), and tools are managed with
the tool's own methods. The test runs this file with only the import line changed.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from agent_framework import Agent, tool
from agent_framework_hyperlight import HyperlightExecuteCodeTool
from sample_client import get_client


@tool
def compute(operation: str, a: float, b: float) -> float:
    """Perform a math operation."""
    return {"add": a + b, "subtract": a - b, "multiply": a * b, "divide": a / b}[operation]


@tool
def fetch_data(table: Annotated[str, "users or products"]) -> list[dict[str, Any]]:
    """Fetch the rows of a table."""
    if table != "users":
        return []
    return [
        {"id": 1, "name": "Alice", "role": "admin"},
        {"id": 2, "name": "Bob", "role": "user"},
        {"id": 3, "name": "Charlie", "role": "admin"},
    ]


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email (a direct tool, not available inside the sandbox)."""
    return f"Email sent to {to}"


async def main() -> None:
    execute_code = HyperlightExecuteCodeTool(tools=[compute], approval_mode="never_require")
    execute_code.add_tools([fetch_data])
    print("sandbox tools:", [t.name for t in execute_code.get_tools()])
    codeact_instructions = execute_code.build_instructions(tools_visible_to_model=False)
    agent = Agent(
        client=get_client(),
        name="StaticWiringAgent",
        instructions=f"You are a helpful assistant.\n\n{codeact_instructions}",
        tools=[send_email, execute_code],
    )
    result = await agent.run("Fetch all users, find the admins and multiply 7 by 6.")
    print(f"Agent: {result.text}")


if __name__ == "__main__":
    asyncio.run(main())
