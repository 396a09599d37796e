"""The CodeAct runtime: `CodeAct`, the `execute_code` tool, instructions and results."""

from __future__ import annotations

from .codeact import CodeAct
from .execute_tool import ExecuteCodeTool
from .result import ExecutionError, ExecutionResult
from .session import Session, SessionReport

__all__ = [
    "CodeAct",
    "ExecuteCodeTool",
    "ExecutionError",
    "ExecutionResult",
    "Session",
    "SessionReport",
]
