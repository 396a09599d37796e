"""Benchmark reports: medians per wiring, a markdown table with CodeAct/direct ratios, the JSON
file and a PNG bar chart. Failed runs (a wrong answer, the turn limit, an invalid output: the
agent's own end) count in every median and are shown in the table; interrupted runs
(`RunRecord.interrupted`: cut short by the model endpoint, the sandbox or a bug, with what they
spent until then) are counted and listed but left out of the medians, whose runs ended on
their own. A wiring none of whose runs ended on its own has no medians: None in the JSON,
"-" in the table, no bar in the chart."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._extras import install_hint
from .._paths import atomic_write
from ..errors import ConfigurationError
from .order_totals import RunRecord
from .stats import json_file_text

__all__ = [
    "METRICS",
    "bench_json",
    "completed_runs",
    "markdown_table",
    "summarize",
    "write_chart",
    "write_json",
]

#: (key, label) of every metric summarized by its median.
METRICS: tuple[tuple[str, str], ...] = (
    ("wall_s", "wall time (s)"),
    ("input_tokens", "input tokens"),
    ("output_tokens", "output tokens"),
    ("total_tokens", "total tokens"),
    ("model_turns", "model turns"),
    ("tool_calls", "tool calls"),
    ("fallback_parses", "text fallback parses"),
)


def summarize(records: Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """Per wiring: runs, correct, failed (with an error), interrupted (of those failed: left
    out of the medians), one-program runs, and medians of the runs not interrupted (None
    when every run was interrupted: there is nothing to take a median of)."""
    summary: dict[str, dict[str, Any]] = {}
    for wiring in dict.fromkeys(r.wiring for r in records):
        mine = [r for r in records if r.wiring == wiring]
        entry: dict[str, Any] = {
            "runs": len(mine),
            "correct": sum(r.correct for r in mine),
            "failed": sum(r.error is not None for r in mine),
            "interrupted": sum(r.interrupted for r in mine),
        }
        if wiring == "codeact":
            # "Finished in one execute_code turn": one program, then the answer.
            entry["one_program_runs"] = sum(
                r.code_executions == 1 and r.model_turns == 2 and r.error is None for r in mine
            )
        ended = [r for r in mine if not r.interrupted]
        for key, _ in METRICS:
            entry[key] = _median([getattr(r, key) for r in ended])
        summary[wiring] = entry
    return summary


def _median(values: Sequence[float]) -> float | None:
    return round(float(statistics.median(values)), 3) if values else None


def completed_runs(records: Sequence[RunRecord]) -> int:
    """How many runs ended on their own (not interrupted): the runs the medians are of."""
    return sum(not r.interrupted for r in records)


def bench_json(model: str, records: Sequence[RunRecord]) -> dict[str, Any]:
    """The benchmark's JSON: ``model``, every run, and the medians per wiring."""
    return {
        "model": model,
        "runs": [r.to_dict() for r in records],
        "summary": summarize(records),
    }


def write_json(path: Path, model: str, records: Sequence[RunRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json_file_text(bench_json(model, records), ensure_ascii=False)
    atomic_write(path, text.encode("utf-8"))


def markdown_table(model: str, records: Sequence[RunRecord]) -> str:
    """Medians per wiring as a markdown table, with the CodeAct/direct ratio of each."""
    summary = summarize(records)
    wirings = list(summary)
    both = "codeact" in summary and "direct" in summary
    runs = ", ".join(f"{w}: {summary[w]['runs']}" for w in wirings)
    header = ["metric (median)", *[_label(w) for w in wirings]]
    if both:
        header.append("CodeAct / direct")
    rows = [header, ["---"] * len(header)]
    rows.append(["correct", *[f"{summary[w]['correct']}/{summary[w]['runs']}" for w in wirings]])
    rows.append(["failed runs", *[str(summary[w]["failed"]) for w in wirings]])
    if any(summary[w]["interrupted"] for w in wirings):
        rows.append(
            [
                "of those interrupted (not in the medians)",
                *[str(summary[w]["interrupted"]) for w in wirings],
            ]
        )
    if "codeact" in summary:
        rows.append(
            [
                "one execute_code program",
                *[
                    f"{summary[w]['one_program_runs']}/{summary[w]['runs']}"
                    if w == "codeact"
                    else "-"
                    for w in wirings
                ],
            ]
        )
    for row in rows[2:]:
        if both:
            row.append("")
    for key, label in METRICS:
        row = [label, *[_number(summary[w][key], key) for w in wirings]]
        if both:
            codeact, direct = summary["codeact"][key], summary["direct"][key]
            row.append(f"{codeact / direct:.2f}" if direct and codeact is not None else "-")
        rows.append(row)
    lines = [f"order-totals benchmark, model {model} (runs {runs})", ""]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    errors = [r for r in records if r.error]
    if errors:
        lines += ["", "Failed runs:"]
        lines += [
            f"- {r.wiring}: {r.error}" + (" (interrupted)" if r.interrupted else "") for r in errors
        ]
    return "\n".join(lines)


def _label(wiring: str) -> str:
    return "CodeAct" if wiring == "codeact" else wiring


def _number(value: float | None, key: str = "") -> str:
    if value is None:
        return "-"  # no run to take a median of
    if key == "wall_s":
        return f"{value:.1f}"
    return f"{value:,.0f}" if float(value).is_integer() and value >= 100 else f"{value:g}"


def write_chart(path: Path, model: str, records: Sequence[RunRecord]) -> None:
    """A PNG with one bar chart per metric (median per wiring); needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigurationError(
            f"the chart needs matplotlib: {install_hint('bench')} (the table and the JSON "
            "do not need it)"
        ) from exc
    summary = summarize(records)
    wirings = list(summary)
    shown = [m for m in METRICS if m[0] in ("wall_s", "total_tokens", "model_turns", "tool_calls")]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.6))
    colors = {"codeact": "#2a9d8f", "direct": "#e76f51"}
    for ax, (key, label) in zip(axes, shown, strict=True):
        measured = [w for w in wirings if summary[w][key] is not None]
        values = [summary[w][key] for w in measured]
        bars = ax.bar(
            [_label(w) for w in measured], values, color=[colors.get(w, "#888") for w in measured]
        )
        ax.bar_label(bars, labels=[_number(v, key) for v in values], fontsize=8)
        if not measured:
            ax.text(0.5, 0.5, "no completed run", ha="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(label, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    correct = ", ".join(
        f"{_label(w)} {summary[w]['correct']}/{summary[w]['runs']} correct" for w in wirings
    )
    fig.suptitle(f"order totals: medians ({correct})\nmodel: {model}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
