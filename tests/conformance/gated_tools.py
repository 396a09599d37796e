"""The tools the approval tests share: one that needs approval and records who it mailed, one
that does not."""

from __future__ import annotations

from codeact import tool

SENT: list[str] = []


@tool(approval_mode="always_require")
def send_email(to: str, body: str = "") -> str:
    """Send an email (needs approval)."""
    SENT.append(to)
    return f"sent to {to}"


@tool
def lookup(name: str) -> str:
    """Look a name up (no approval needed)."""
    return name.upper()


def sent_after(before: int) -> list[str]:
    return SENT[before:]
