"""The 82 M3ToolEval tasks: their data (shipped with its license in ``data/``) and selection."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ...errors import UserError

__all__ = ["DOMAINS", "Task", "data_text", "load_tasks", "select_tasks"]

#: The five domains, in the order the original benchmark registers them.
DOMAINS = (
    "message_decoder",
    "dna_sequencer",
    "trade_calculator",
    "travel_itinerary_planning",
    "web_browsing",
)


@dataclass(frozen=True)
class Task:
    """One task: its name (``domain/what``), the instruction given to the model, and the
    expected output (a number, string, list, tuple, dict or bool) the answer is checked
    against."""

    name: str
    domain: str
    instruction: str
    expected: Any


def data_text(name: str) -> str:
    """The text of one of the shipped data files (``tasks.json``, ``travel.json``, ...)."""
    return resources.files(__package__).joinpath("data").joinpath(name).read_text("utf-8")


@lru_cache(maxsize=1)
def load_tasks() -> tuple[Task, ...]:
    """All 82 tasks, in the original benchmark's order."""
    rows = json.loads(data_text("tasks.json"))
    return tuple(
        Task(
            name=row["name"],
            domain=row["domain"],
            instruction=row["instruction"],
            expected=ast.literal_eval(row["expected"]),
        )
        for row in rows
    )


def select_tasks(
    *, domains: tuple[str, ...] = (), limit: int | None = None, spread: bool = False
) -> list[Task]:
    """The tasks of `domains` (all when empty), at most `limit` of them.

    With `spread`, the `limit` tasks are taken round-robin over the domains (the first task of
    each domain, then the second, ...), so that a short run still covers every domain;
    otherwise they are the first `limit` in the benchmark's order.
    """
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown:
        raise UserError(
            f"unknown M3ToolEval domain {unknown[0]!r}; choose from: {', '.join(DOMAINS)}"
        )
    wanted = domains or DOMAINS
    tasks = [t for t in load_tasks() if t.domain in wanted]
    if limit is None or limit >= len(tasks):
        return tasks
    if not spread:
        return tasks[:limit]
    by_domain = [[t for t in tasks if t.domain == d] for d in wanted]
    chosen: list[Task] = []
    depth = 0
    while len(chosen) < limit:
        for column in by_domain:
            if depth < len(column) and len(chosen) < limit:
                chosen.append(column[depth])
        depth += 1
    order = {t.name: i for i, t in enumerate(tasks)}
    return sorted(chosen, key=lambda t: order[t.name])
