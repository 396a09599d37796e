"""The agent loop: a chat client, direct tools and CodeAct, with usage, timings and approvals."""

from __future__ import annotations

from .agent import Agent
from .direct_tools import DirectCallResult, DirectTools, direct_pipeline
from .result import AgentResult, AgentTimings, AgentUsage

__all__ = [
    "Agent",
    "AgentResult",
    "AgentTimings",
    "AgentUsage",
    "DirectCallResult",
    "DirectTools",
    "direct_pipeline",
]
