"""`codeact bench order-totals`: the order-totals task, CodeAct vs direct tool calls."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import fail, handle_errors, result_file_options
from .model_options import client_from_options, model_options, start_model
from .params import Number
from .ray_bench import ray_option

if TYPE_CHECKING:
    from ..bench.order_totals import RunRecord, Wiring
    from ..chat.messages import ChatClient

__all__ = ["order_totals_command"]


@click.command("order-totals")
@model_options
@click.option(
    "--runs",
    type=Number(int, low=1, high=1000, what="a whole number"),
    default=3,
    show_default=True,
)
@click.option(
    "--wiring",
    type=click.Choice(["codeact", "direct", "both"]),
    default="both",
    show_default=True,
    help="Which wiring(s) to run.",
)
@result_file_options(Path("bench-results/order-totals.json"), "every run and the medians")
@click.option(
    "--max-turns",
    type=Number(int, low=1, high=500, what="a whole number"),
    default=45,
    show_default=True,
)
@ray_option("Run each episode as a Ray task (Ray started here, or the cluster at ADDRESS).")
@handle_errors
def order_totals_command(
    model: str | None,
    base_url: str | None,
    runs: int,
    wiring: str,
    json_path: Path,
    chart_path: Path | None,
    max_turns: int,
    ray_address: str | None,
) -> None:
    """The order-totals task, CodeAct vs direct tool calls: same model, tools, prompt and
    instructions. Prints a markdown table of medians with CodeAct/direct ratios.

    Every run is counted and shown, not dropped, and the runs after it still run: a wrong
    answer in the `correct` row, a run that failed (turn limit, model error, any other
    failure) in `failed runs`, with its error listed below the table. A run the model endpoint
    or the sandbox cut short is interrupted: its costs so far are recorded, and it is left
    out of the medians.
    Exit status 0 when the benchmark ran (whatever the answers), 1 when no run completed
    (every one interrupted: there are no medians), 2 for a usage error.
    """
    from ..bench.order_totals import WIRINGS
    from ..bench.report import completed_runs

    wirings: tuple[Wiring, ...] = WIRINGS if wiring == "both" else (wiring,)  # type: ignore[assignment]
    if ray_address is not None:
        from .ray_bench import order_totals_on_ray

        model_name = model or "default"
        click.echo(f"order-totals benchmark on Ray: {runs} run(s) x {', '.join(wirings)}", err=True)
        records = order_totals_on_ray(
            ray_address,
            model=model,
            base_url=base_url,
            wirings=wirings,
            runs=runs,
            max_turns=max_turns,
        )
    else:
        client = client_from_options(model, base_url)
        click.echo(
            f"order-totals benchmark: {runs} run(s) x {', '.join(wirings)}, model {client.model}",
            err=True,
        )
        records = []
        try:
            asyncio.run(_run(client, wirings, runs, max_turns, records))
        except KeyboardInterrupt:
            if records:  # the runs that finished are kept: their table and JSON, then 130
                _report(client.model, records, json_path, chart_path)
            raise
        model_name = client.model  # after the runs: a server's only model is found by asking
    _report(model_name, records, json_path, chart_path)
    if records and not completed_runs(records):
        first = next((r.error for r in records if r.error), None) or "no error recorded"
        fail(
            f"no run completed: all {len(records)} were interrupted, so there are no medians "
            f"(the first: {first[:300]})"
        )


def _report(
    model_name: str, records: list[RunRecord], json_path: Path, chart_path: Path | None
) -> None:
    """The table on stdout, the JSON and the chart (the chart's absence is only said)."""
    from ..bench.report import markdown_table, write_chart, write_json

    table = markdown_table(model_name, records)
    click.echo(table)
    write_json(json_path, model_name, records)
    chart = chart_path or json_path.with_suffix(".png")
    click.echo(f"\nJSON: {json_path}")
    try:
        write_chart(chart, model_name, records)
    except Exception as exc:  # a missing matplotlib must not lose the measured runs
        if chart_path is not None:
            raise
        click.echo(f"chart: not written ({exc})")
    else:
        click.echo(f"chart: {chart}")


async def _run(
    client: ChatClient,
    wirings: tuple[Wiring, ...],
    runs: int,
    max_turns: int,
    records: list[RunRecord],
) -> None:
    """The runs, each appended to `records` as it ends (so an interrupt keeps them)."""
    from ..bench.order_totals import run_series

    total = runs * len(wirings)

    def describe(record: RunRecord) -> str:
        state = "correct" if record.correct else ("failed" if record.error else "wrong")
        return f"{record.wiring} {state} {record.wall_s:.1f}s"

    try:
        await start_model(client)
        if not sys.stderr.isatty():  # a log file: one line per run instead of a bar

            def logged(i: int, record: RunRecord) -> None:
                records.append(record)
                click.echo(f"run {i}/{total}: {describe(record)}", err=True)

            await run_series(client, wirings=wirings, runs=runs, max_turns=max_turns, on_run=logged)
            return
        with click.progressbar(
            length=total, label="runs", file=sys.stderr, show_pos=True, item_show_func=str
        ) as bar:
            bar.render_progress()

            def shown(i: int, record: RunRecord) -> None:
                records.append(record)
                bar.update(1, describe(record))

            await run_series(client, wirings=wirings, runs=runs, max_turns=max_turns, on_run=shown)
    finally:
        await client.aclose()
