"""Tools for the serve-mcp approval tests (loaded by the server as a .py file).

`send_email` needs approval; every email it really sends is appended to the file named by
$CODEACT_TEST_OUTBOX, so a test can check that a denied call never ran.
"""

from __future__ import annotations

import os
from pathlib import Path

from codeact import tool


@tool(approval_mode="always_require")
def send_email(to: str) -> str:
    """Send an email."""
    with Path(os.environ["CODEACT_TEST_OUTBOX"]).open("a", encoding="utf-8") as outbox:
        outbox.write(to + "\n")
    return f"sent to {to}"


@tool
def contacts() -> list[str]:
    """Everyone to write to."""
    return ["ann@example.com", "boss@example.com"]
