"""`codeact bench ...`: benchmarks that print a table and save JSON and a chart."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from ..bench.order_totals import WIRINGS, RunRecord, Wiring, run_series
from ..bench.report import markdown_table, write_chart, write_json
from ..chat.messages import ChatClient
from .common import handle_errors
from .model_options import client_from_options, model_options

__all__ = ["bench_group"]


@click.group("bench")
def bench_group() -> None:
    """Measure CodeAct against direct tool calling on the same model."""


@bench_group.command("order-totals")
@model_options
@click.option("--runs", type=click.IntRange(1, 1000), default=3, show_default=True)
@click.option(
    "--wiring",
    type=click.Choice(["codeact", "direct", "both"]),
    default="both",
    show_default=True,
    help="Which wiring(s) to run.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("bench-results/order-totals.json"),
    show_default=True,
    help="Where to write every run and the medians.",
)
@click.option(
    "--chart",
    "chart_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the PNG bar chart [default: the JSON path with .png].",
)
@click.option("--max-turns", type=click.IntRange(1, 500), default=45, show_default=True)
@handle_errors
def order_totals_command(
    model: str | None,
    base_url: str | None,
    runs: int,
    wiring: str,
    json_path: Path,
    chart_path: Path | None,
    max_turns: int,
) -> None:
    """The order-totals task, CodeAct vs direct tool calls: same model, tools, prompt and
    instructions. Prints a markdown table of medians with CodeAct/direct ratios.

    A failed run (wrong answer, turn limit, model error) is counted and shown, not dropped.
    Exit status 0 when the benchmark ran (whatever the answers), 2 for a usage error.
    """
    wirings: tuple[Wiring, ...] = WIRINGS if wiring == "both" else (wiring,)  # type: ignore[assignment]
    client = client_from_options(model, base_url)
    click.echo(
        f"order-totals benchmark: {runs} run(s) x {', '.join(wirings)}, model {client.model}",
        err=True,
    )
    records = asyncio.run(_run(client, wirings, runs, max_turns))
    table = markdown_table(client.model, records)
    click.echo(table)
    write_json(json_path, client.model, records)
    chart = chart_path or json_path.with_suffix(".png")
    click.echo(f"\nJSON: {json_path}")
    try:
        write_chart(chart, client.model, records)
    except Exception as exc:  # a missing matplotlib must not lose the measured runs
        if chart_path is not None:
            raise
        click.echo(f"chart: not written ({exc})")
    else:
        click.echo(f"chart: {chart}")


async def _run(
    client: ChatClient, wirings: tuple[Wiring, ...], runs: int, max_turns: int
) -> list[RunRecord]:
    total = runs * len(wirings)

    def describe(record: RunRecord) -> str:
        state = "correct" if record.correct else ("failed" if record.error else "wrong")
        return f"{record.wiring} {state} {record.wall_s:.1f}s"

    try:
        if not sys.stderr.isatty():  # a log file: one line per run instead of a bar
            return await run_series(
                client,
                wirings=wirings,
                runs=runs,
                max_turns=max_turns,
                on_run=lambda i, record: click.echo(
                    f"run {i}/{total}: {describe(record)}", err=True
                ),
            )
        with click.progressbar(
            length=total, label="runs", file=sys.stderr, show_pos=True, item_show_func=str
        ) as bar:
            bar.render_progress()
            return await run_series(
                client,
                wirings=wirings,
                runs=runs,
                max_turns=max_turns,
                on_run=lambda i, record: bar.update(1, describe(record)),
            )
    finally:
        await client.aclose()
