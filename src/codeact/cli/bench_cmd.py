"""`codeact bench ...`: benchmarks that print tables and save JSON (order-totals also a chart)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from .common import handle_errors
from .params import Number

__all__ = ["bench_group"]


@click.group("bench")
def bench_group() -> None:
    """Benchmarks: each prints a table and can save JSON."""


@bench_group.command("packages")
@click.option("--backend", type=click.Choice(["wasm", "jail"]), default="wasm", show_default=True)
@click.option("--package", "packages", multiple=True, required=True, metavar="REQUIREMENT")
@click.option(
    "--find-links",
    "wheelhouse",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="DIR",
    help="Install from the wheels in DIR only (offline).",
)
@click.option(
    "--runs",
    type=Number(int, low=5, high=100_000, what="a whole number", span=True),
    default=50,
    show_default=True,
)
@handle_errors
def packages_command(
    backend: str, packages: tuple[str, ...], wheelhouse: Path | None, runs: int
) -> None:
    """Time a fresh execution without and with packages granted, and each package's import."""
    from ..bench.packages_bench import bench_packages
    from ..bench.stats import machine_facts, markdown_table
    from ..sandbox.packages import resolve_packages

    grant = resolve_packages(
        packages, target="jail" if backend == "jail" else "wasm", wheelhouse=wheelhouse
    )
    click.echo(f"measuring {backend} with {', '.join(grant.versions())}...", err=True)
    results = asyncio.run(bench_packages(backend, grant, grant.imports, runs))
    facts = machine_facts()
    click.echo(
        f"\n{facts['cpus']} CPUs, Python {facts['python']}, load {facts['load_avg_1m']}; "
        f"{runs} runs per case on {backend}; milliseconds per execution\n"
    )
    reference = results[1].p50_ms
    rows = [
        [r.case, r.p50_ms, r.p90_ms, r.p50_ms - reference if r.case.startswith("import") else None]
        for r in results
    ]
    click.echo(markdown_table(["case", "p50", "p90", "import cost (p50)"], rows))


def _add_commands() -> None:
    from .bench_m3tooleval_cmd import m3tooleval_command
    from .bench_order_totals_cmd import order_totals_command
    from .bench_sandbox_cmd import sandbox_command

    bench_group.add_command(sandbox_command)
    bench_group.add_command(order_totals_command)
    bench_group.add_command(m3tooleval_command)


_add_commands()
