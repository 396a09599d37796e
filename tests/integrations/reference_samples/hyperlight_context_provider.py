"""A script written for agent-framework-hyperlight, in the style of its README and samples.

The provider owns `compute` and `fetch_data`; the model sees only `execute_code` and calls the
tools from inside the sandbox with call_tool(...). A function middleware logs every tool call.
The test runs this file with only the `agent_framework_hyperlight` import line changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from agent_framework import Agent, FunctionInvocationContext, function_middleware, tool
from agent_framework_hyperlight import HyperlightCodeActProvider
from sample_client import get_client


@function_middleware
async def log_calls(
    context: FunctionInvocationContext, call_next: Callable[[], Awaitable[None]]
) -> None:
    """Print each tool call and what it returned."""
    arguments = context.arguments if isinstance(context.arguments, dict) else {}
    if context.function.name == "execute_code":
        print("> execute_code")
        print(arguments.get("code", ""))
    else:
        shown = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        print(f"> {context.function.name}({shown})")
    await call_next()
    if context.function.name == "execute_code" and isinstance(context.result, list):
        for item in context.result:
            if item.type == "text":
                print(f"stdout:\n{item.text}")
    else:
        print(f"< {context.function.name} -> {context.result!r}")


@tool(approval_mode="never_require")
def compute(
    operation: Annotated[Literal["add", "subtract", "multiply", "divide"], "The operation."],
    a: Annotated[float, "Left operand."],
    b: Annotated[float, "Right operand."],
) -> float:
    """Do one arithmetic operation."""
    if operation == "add":
        return a + b
    if operation == "subtract":
        return a - b
    if operation == "multiply":
        return a * b
    return a / b if b else float("inf")


@tool(approval_mode="never_require")
async def fetch_data(table: Annotated[str, "users or products"]) -> list[dict[str, Any]]:
    """Fetch the rows of a table."""
    await asyncio.sleep(0.01)
    tables: dict[str, list[dict[str, Any]]] = {
        "users": [
            {"id": 1, "name": "Alice", "role": "admin"},
            {"id": 2, "name": "Bob", "role": "user"},
            {"id": 3, "name": "Charlie", "role": "admin"},
        ],
        "products": [{"id": 101, "name": "Widget", "price": 9.99}],
    }
    return tables.get(table, [])


async def main() -> None:
    codeact = HyperlightCodeActProvider(
        tools=[compute, fetch_data],
        approval_mode="never_require",
    )
    agent = Agent(
        client=get_client(),
        name="CodeActAgent",
        instructions="You are a helpful assistant.",
        context_providers=[codeact],
        middleware=[log_calls],
    )
    result = await agent.run(
        "Fetch all users, find the admins and multiply 7 by 6. Use execute_code."
    )
    print(f"Agent: {result.text}")


if __name__ == "__main__":
    asyncio.run(main())
