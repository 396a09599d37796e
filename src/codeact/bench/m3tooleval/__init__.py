"""M3ToolEval (Wang et al., 2024) offline: 82 multi-tool tasks in five domains, run through
codeact's `Agent` in the CodeAct wiring and with direct tool calls, on the same model.

The task data ships with its MIT license in ``data/``; the tools are codeact's own, typed,
and the ``calculator`` tool evaluates arithmetic only (`safe_eval`), never ``eval()``.
"""

from __future__ import annotations

from .answer import check_answer, extract_answer, is_correct
from .runner import FAILURES, INSTRUCTIONS, MAX_TURNS, WIRINGS, TaskRun, Wiring, run_task, run_tasks
from .safe_eval import UnsafeExpression, safe_eval
from .tasks import DOMAINS, Task, load_tasks, select_tasks
from .tools import tools_for

__all__ = [
    "DOMAINS",
    "FAILURES",
    "INSTRUCTIONS",
    "MAX_TURNS",
    "WIRINGS",
    "Task",
    "TaskRun",
    "UnsafeExpression",
    "Wiring",
    "check_answer",
    "extract_answer",
    "is_correct",
    "load_tasks",
    "run_task",
    "run_tasks",
    "safe_eval",
    "select_tasks",
    "tools_for",
]
