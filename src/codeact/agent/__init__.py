"""The agent loop: a chat client, direct tools and CodeAct, with usage, timings and approvals."""

from __future__ import annotations

from .agent import Agent
from .direct_tools import ApprovalHandler, ApprovalRequest, DirectCallResult, DirectTools
from .result import AgentResult, AgentTimings, AgentUsage

__all__ = [
    "Agent",
    "AgentResult",
    "AgentTimings",
    "AgentUsage",
    "ApprovalHandler",
    "ApprovalRequest",
    "DirectCallResult",
    "DirectTools",
]
