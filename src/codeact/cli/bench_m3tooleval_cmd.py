"""`codeact bench m3tooleval`: the 82 M3ToolEval tasks in the CodeAct and/or direct wiring."""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import handle_errors, result_file_options
from .model_options import client_from_options, model_options, start_model
from .params import Number

if TYPE_CHECKING:
    from ..bench.m3tooleval import Task, TaskRun, Wiring
    from ..chat.messages import ChatClient

__all__ = ["m3tooleval_command"]


@click.command("m3tooleval")
@model_options
@click.option(
    "--wiring",
    type=click.Choice(["codeact", "direct", "both"]),
    default="both",
    show_default=True,
    help="Which wiring(s) to run.",
)
@click.option(
    "--domain",
    "domains",
    multiple=True,
    metavar="NAME",
    help="Only this domain (repeatable): message_decoder, dna_sequencer, trade_calculator, "
    "travel_itinerary_planning, web_browsing.",
)
@click.option(
    "--tasks",
    "limit",
    type=Number(int, low=1, high=1000, what="a whole number", span=True),
    default=None,
    help="Run only N tasks, spread round-robin over the domains [default: all 82].",
)
@click.option(
    "--runs",
    type=Number(int, low=1, high=100, what="a whole number", span=True),
    default=1,
    show_default=True,
)
@click.option(
    "--max-turns",
    type=Number(int, low=1, high=100, what="a whole number", span=True),
    default=10,
    show_default=True,
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the runs already in the --json file (an interrupted or shorter benchmark of "
    "the same model) and run only the missing ones; the tables cover both.",
)
@result_file_options(
    Path("bench-results/m3tooleval.json"),
    "every run and the summary (rewritten after each run)",
)
@handle_errors
def m3tooleval_command(
    model: str | None,
    base_url: str | None,
    wiring: str,
    domains: tuple[str, ...],
    limit: int | None,
    runs: int,
    max_turns: int,
    resume: bool,
    json_path: Path,
    chart_path: Path | None,
) -> None:
    """M3ToolEval offline: each task's answer checked by the benchmark's own rule, CodeAct vs
    direct tool calls on the same model, tools, prompt and instructions. Prints the wirings
    side by side with ratios and a per-domain table; writes JSON and a chart.

    A failed run (wrong answer, turn limit, model error) is counted and shown, not dropped.
    Exit status 0 when the benchmark ran (whatever the answers), 2 for a usage error.
    """
    from ..bench.m3tooleval import WIRINGS, select_tasks
    from ..bench.m3tooleval.report import (
        domain_table,
        read_runs,
        summary_table,
        write_chart,
        write_json,
    )

    wirings: tuple[Wiring, ...] = WIRINGS if wiring == "both" else (wiring,)  # type: ignore[assignment]
    tasks = select_tasks(domains=domains, limit=limit, spread=True)
    client = client_from_options(model, base_url)
    # Read before the model starts: a file that is not this benchmark's is said at once.
    kept_model, earlier = read_runs(json_path) if resume else (None, [])
    click.echo(
        f"M3ToolEval: {len(tasks)} task(s) x {runs} run(s) x {', '.join(wirings)}, "
        f"model {client.model}",
        err=True,
    )
    started = time.perf_counter()
    plan = _Plan(tasks, wirings, runs, max_turns, json_path)
    new = asyncio.run(_run(client, plan, earlier, kept_model, resume))
    elapsed = time.perf_counter() - started
    records = [*_selected(earlier, plan), *new]
    click.echo(
        f"\n{len(new)} runs in {elapsed / 60:.1f} min"
        + (f" ({len(earlier)} kept from before)" if earlier else "")
        + f"; model {client.model}\n"
    )
    click.echo(summary_table(records))
    click.echo("")
    click.echo(domain_table(records))
    write_json(json_path, client.model, [*earlier, *new])
    click.echo(f"\nJSON: {json_path}")
    chart = chart_path or json_path.with_suffix(".png")
    try:
        write_chart(chart, client.model, records)
    except Exception as exc:  # a missing matplotlib must not lose the measured runs
        if chart_path is not None:
            raise
        click.echo(f"chart: not written ({exc})")
    else:
        click.echo(f"chart: {chart}")


def _selected(earlier: list[TaskRun], plan: _Plan) -> list[TaskRun]:
    """The kept runs that belong to this benchmark's tasks and wirings (at most `runs` of each
    pair): the tables compare like with like; the JSON keeps every run."""
    seen: Counter[tuple[str, str]] = Counter()
    chosen: list[TaskRun] = []
    for r in earlier:
        key = (r.task, r.wiring)
        if key in plan.pairs and seen[key] < plan.runs:
            seen[key] += 1
            chosen.append(r)
    return chosen


@dataclass(frozen=True)
class _Plan:
    """What one invocation runs, and where its JSON goes."""

    tasks: list[Task]
    wirings: tuple[Wiring, ...]
    runs: int
    max_turns: int
    json_path: Path

    @property
    def pairs(self) -> set[tuple[str, str]]:
        """(task, wiring) of every run this plan makes."""
        return {(t.name, w) for t in self.tasks for w in self.wirings}


async def _run(
    client: ChatClient,
    plan: _Plan,
    earlier: list[TaskRun],
    kept_model: str | None,
    resume: bool = False,
) -> list[TaskRun]:
    """Start the model, check that the kept runs (`earlier`) are its own (once its name is
    known: only then are they said to be kept), run the rest; returns the new runs."""
    from ..bench.m3tooleval.report import check_same_model
    from ..chat.openai_chat import OpenAIChat

    try:
        await start_model(client)
        if kept_model is not None:
            if isinstance(client, OpenAIChat):
                await client.resolve_model()  # the name the kept runs must have been made with
            check_same_model(plan.json_path, kept_model, client.model)
        if resume:
            click.echo(f"{len(earlier)} run(s) kept from {plan.json_path}", err=True)
        return await _run_rest(client, plan, earlier)
    finally:
        await client.aclose()


async def _run_rest(client: ChatClient, plan: _Plan, earlier: list[TaskRun]) -> list[TaskRun]:
    from ..bench.m3tooleval import run_tasks
    from ..bench.m3tooleval.report import write_json

    tasks, wirings, runs, json_path = plan.tasks, plan.wirings, plan.runs, plan.json_path
    run_all = functools.partial(
        run_tasks, tasks, client, wirings=wirings, runs=runs, max_turns=plan.max_turns, done=earlier
    )
    kept = Counter((r.task, r.wiring) for r in earlier if (r.task, r.wiring) in plan.pairs)
    total = len(tasks) * runs * len(wirings) - sum(min(n, runs) for n in kept.values())
    done: list[TaskRun] = []

    def describe(run: TaskRun) -> str:
        state = "correct" if run.correct else (run.failure or "wrong")
        return f"{run.task} [{run.wiring}] {state}, {run.model_turns} turns, {run.wall_s:.0f} s"

    def saved(run: TaskRun) -> None:
        done.append(run)
        # a long run interrupted keeps its runs (and the kept ones)
        write_json(json_path, client.model, [*earlier, *done])

    if not sys.stderr.isatty():  # a log file: one line per run instead of a bar

        def log(run: TaskRun) -> None:
            saved(run)
            click.echo(f"run {len(done)}/{total}: {describe(run)}", err=True)

        return await run_all(
            on_run=log,
            on_start=lambda task, wiring: click.echo(f"{task.name} [{wiring}]:", err=True),
            progress=lambda line: click.echo(f"  {line}", err=True),
        )
    with click.progressbar(
        length=total, label="runs", file=sys.stderr, show_pos=True, show_eta=True
    ) as bar:
        bar.render_progress()

        def step(run: TaskRun) -> None:
            saved(run)
            bar.label = f"runs (last: {describe(run)})"
            bar.update(1)

        return await run_all(on_run=step)
