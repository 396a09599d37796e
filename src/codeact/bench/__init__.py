"""Benchmark harness: the order-totals task through CodeAct and through direct tool calls."""

from __future__ import annotations

from .order_totals import (
    INSTRUCTIONS,
    WIRINGS,
    RunRecord,
    Wiring,
    answer_totals,
    build_agent,
    run_once,
    run_series,
)
from .report import bench_json, markdown_table, summarize, write_chart, write_json

__all__ = [
    "INSTRUCTIONS",
    "WIRINGS",
    "RunRecord",
    "Wiring",
    "answer_totals",
    "bench_json",
    "build_agent",
    "markdown_table",
    "run_once",
    "run_series",
    "summarize",
    "write_chart",
    "write_json",
]
