"""Small helpers for benchmark reports: percentiles, markdown tables, machine facts, and the
text of their JSON files."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["json_file_text", "machine_facts", "markdown_table", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table with right-aligned cells after the first column."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        padded = [
            row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(row))
        ]
        lines.append("| " + " | ".join(padded) + " |")
        if n == 0:
            lines.append(
                "|"
                + "|".join(
                    ":" + "-" * (w + 1) if i else "-" * (w + 2) for i, w in enumerate(widths)
                )
                + "|"
            )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def machine_facts() -> dict[str, Any]:
    """What the numbers were measured on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(load[0], 2),
    }


def json_file_text(payload: Any, *, ensure_ascii: bool = True) -> str:
    """`payload` as indented JSON text ending in a newline. A figure that could not be measured
    (NaN, such as memory where ``/proc`` does not say) is written as null: JSON has no NaN,
    and `json.dumps` would write ``NaN``, which strict readers (jq, JavaScript) refuse."""
    return json.dumps(_finite(payload), indent=2, ensure_ascii=ensure_ascii, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
