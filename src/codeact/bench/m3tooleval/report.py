"""The M3ToolEval benchmark's summary, tables, JSON and chart."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..._extras import install_hint
from ...errors import ConfigurationError
from ..stats import json_file_text, machine_facts, markdown_table
from .runner import TaskRun
from .tasks import DOMAINS

__all__ = [
    "bench_json",
    "check_same_model",
    "domain_table",
    "read_runs",
    "summarize",
    "summary_table",
    "write_chart",
    "write_json",
]

#: (key, label) of the per-run means the summary and the table show.
MEANS = (
    ("model_turns", "model turns"),
    ("tool_calls", "tool calls"),
    ("input_tokens", "input tokens"),
    ("output_tokens", "output tokens"),
    ("wall_s", "wall time (s)"),
)


def summarize(runs: Sequence[TaskRun]) -> dict[str, dict[str, Any]]:
    """Per wiring: runs, correct, success rate, means per run, fallback parses and nudges
    (totals, with the model turns they are out of), and how many runs failed which way."""
    summary: dict[str, dict[str, Any]] = {}
    for wiring in dict.fromkeys(r.wiring for r in runs):
        mine = [r for r in runs if r.wiring == wiring]
        n = len(mine)
        correct = sum(r.correct for r in mine)
        row: dict[str, Any] = {
            "runs": n,
            "tasks": len({r.task for r in mine}),
            "correct": correct,
            "success_rate": round(correct / n, 4) if n else 0.0,
        }
        for key, _ in MEANS:
            row[f"mean_{key}"] = round(sum(getattr(r, key) for r in mine) / n, 3) if n else 0.0
        row["model_turns"] = sum(r.model_turns for r in mine)
        row["fallback_parses"] = sum(r.fallback_parses for r in mine)
        row["nudges"] = sum(r.nudges for r in mine)
        row["nudge_kinds"] = dict(Counter(k for r in mine for k in r.nudge_reasons))
        row["failures"] = dict(Counter(r.failure for r in mine if r.failure))
        row["wall_s"] = round(sum(r.wall_s for r in mine), 1)
        row["by_domain"] = {
            d: {
                "runs": len(dr := [r for r in mine if r.domain == d]),
                "correct": sum(r.correct for r in dr),
                "mean_model_turns": round(sum(r.model_turns for r in dr) / len(dr), 2),
            }
            for d in DOMAINS
            if any(r.domain == d for r in mine)
        }
        summary[wiring] = row
    return summary


def bench_json(model: str, runs: Sequence[TaskRun]) -> dict[str, Any]:
    return {
        "benchmark": "m3tooleval",
        "model": model,
        "machine": machine_facts(),
        "runs": [r.to_dict() for r in runs],
        "summary": summarize(runs),
    }


def read_runs(path: Path) -> tuple[str | None, list[TaskRun]]:
    """The model and the runs of an earlier benchmark JSON at `path`, to go on from
    (`--resume`): ``(None, [])`` if the file does not exist. Raises `ConfigurationError` (one
    line) for a file that is not this benchmark's JSON."""
    if not path.exists():
        return None, []
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("benchmark") != "m3tooleval":
            raise ValueError("not an M3ToolEval result file")
        runs = [TaskRun.from_dict(r) for r in data["runs"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot resume from {path}: {exc}; give another --json path or drop --resume"
        ) from None
    model = data.get("model")
    return (model if isinstance(model, str) else None), runs


def check_same_model(path: Path, kept_model: str | None, model: str) -> None:
    """Refuse (one line) to add `model`'s runs to a file of another model's runs."""
    if kept_model is not None and kept_model != model:
        raise ConfigurationError(
            f"cannot resume from {path}: its runs are of model {kept_model!r}, not "
            f"{model!r}; give another --json path"
        )


def write_json(path: Path, model: str, runs: Sequence[TaskRun]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_file_text(bench_json(model, runs)))


def summary_table(runs: Sequence[TaskRun]) -> str:
    """The wirings side by side (success, then means per run, then totals) with the ratio
    CodeAct/direct where both ran."""
    summary = summarize(runs)
    wirings = list(summary)
    both = "codeact" in summary and "direct" in summary
    headers = ["metric", *[_label(w) for w in wirings], *(["CodeAct/direct"] if both else [])]
    rows: list[list[Any]] = []

    def add(label: str, values: list[Any], ratio: float | None) -> None:
        rows.append([label, *values, *([_fmt_ratio(ratio)] if both else [])])

    def ratio_of(key: str) -> float | None:
        if not both:
            return None
        a, b = summary["codeact"][key], summary["direct"][key]
        return a / b if b else math.nan

    add(
        "success",
        [f"{s['correct']}/{s['runs']} ({100 * s['success_rate']:.1f} %)" for s in summary.values()],
        ratio_of("success_rate"),
    )
    for key, label in MEANS:
        fmt = "{:,.0f}" if key.endswith("tokens") else "{:.1f}" if key == "wall_s" else "{:.2f}"
        values = [fmt.format(s[f"mean_{key}"]) for s in summary.values()]
        add(f"mean {label}", values, ratio_of(f"mean_{key}"))
    add(
        "fallback parses / model turns",
        [f"{s['fallback_parses']}/{s['model_turns']}" for s in summary.values()],
        None,
    )
    add("nudges", [s["nudges"] for s in summary.values()], None)
    for failure in sorted({f for s in summary.values() for f in s["failures"]}):
        add(f"failed: {failure}", [s["failures"].get(failure, 0) for s in summary.values()], None)
    return markdown_table(headers, rows)


def domain_table(runs: Sequence[TaskRun]) -> str:
    """Per domain and wiring: correct runs out of runs, and mean model turns."""
    summary = summarize(runs)
    wirings = list(summary)
    headers = ["domain"]
    for w in wirings:
        headers += [f"{_label(w)} correct", f"{_label(w)} turns"]
    rows = []
    for domain in DOMAINS:
        row: list[Any] = [domain]
        if not any(domain in s["by_domain"] for s in summary.values()):
            continue
        for w in wirings:
            d = summary[w]["by_domain"].get(domain)
            row += (
                [f"{d['correct']}/{d['runs']}", f"{d['mean_model_turns']:.2f}"] if d else ["-", "-"]
            )
        rows.append(row)
    return markdown_table(headers, rows)


def write_chart(path: Path, model: str, runs: Sequence[TaskRun]) -> None:
    """A PNG: success per domain, then mean turns, tool calls and tokens per wiring; needs
    matplotlib (the ``bench`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigurationError(
            f"the chart needs matplotlib: {install_hint('bench')} (the table and the JSON "
            "do not need it)"
        ) from exc
    summary = summarize(runs)
    wirings = list(summary)
    colors = {"codeact": "#2a9d8f", "direct": "#e76f51"}
    domains = [d for d in DOMAINS if any(d in s["by_domain"] for s in summary.values())]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8), gridspec_kw={"width_ratios": [3, 1, 1, 1]})
    width = 0.8 / max(len(wirings), 1)
    for i, w in enumerate(wirings):
        rates = []
        for d in domains:
            got = summary[w]["by_domain"].get(d)
            rates.append(100 * got["correct"] / got["runs"] if got else 0.0)
        xs = [j + i * width for j in range(len(domains))]
        axes[0].bar(xs, rates, width, label=_label(w), color=colors.get(w, "#888"))
    axes[0].set_xticks([j + width * (len(wirings) - 1) / 2 for j in range(len(domains))])
    axes[0].set_xticklabels([d.replace("_", "\n", 1) for d in domains], fontsize=8)
    axes[0].set_title("success per domain (%)", fontsize=10)
    axes[0].legend(fontsize=8)
    for ax, key, label in (
        (axes[1], "mean_model_turns", "mean model turns"),
        (axes[2], "mean_tool_calls", "mean tool calls"),
        (axes[3], "mean_input_tokens", "mean input tokens"),
    ):
        values = [summary[w][key] for w in wirings]
        bars = ax.bar(
            [_label(w) for w in wirings], values, color=[colors.get(w, "#888") for w in wirings]
        )
        ax.bar_label(bars, labels=[f"{v:,.1f}" for v in values], fontsize=8)
        ax.set_title(label, fontsize=10)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    totals = ", ".join(
        f"{_label(w)} {summary[w]['correct']}/{summary[w]['runs']} correct" for w in wirings
    )
    fig.suptitle(f"M3ToolEval ({totals}); model: {model}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _label(wiring: str) -> str:
    return "CodeAct" if wiring == "codeact" else wiring


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None or math.isnan(ratio):
        return ""
    return f"{ratio:.2f}x"
