"""`codeact bench ...`: benchmarks that print tables and save JSON (order-totals also a chart)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._extras import install_hint
from ..errors import UserError
from .common import handle_errors, writable_destination
from .params import Number
from .ray_bench import ray_option

if TYPE_CHECKING:
    pass

__all__ = ["bench_group"]

# The targets the project set itself (p50, side by side with monty in the same run).
_TARGETS = {
    "fresh": "wasm <= 1.0x monty; jail <= 2 ms",
    "call_tool": "wasm <= 1.0x monty and <= 0.05 ms",
    "order_totals": "wasm <= 1.0x monty",
    "session_1KiB": "added per call",
    "session_100KiB": "< 1 ms added per call",
    "session_100KiB_str": "< 1 ms added per call",
    "session_10MiB": "added per call",
    "session_1KiB_read": "added per call",
    "session_100KiB_read": "added per call",
    "session_100KiB_str_read": "added per call",
    "session_10MiB_read": "added per call",
    "session_baseline": "the call without a session",
}


@click.group("bench")
def bench_group() -> None:
    """Benchmarks: each prints a table and can save JSON."""


@bench_group.command("sandbox")
@click.option(
    "--backend",
    "backend_opt",
    default="wasm",
    show_default=True,
    metavar="NAME|all",
    help="Backend to measure, or 'all' for every available one.",
)
@click.option(
    "--runs",
    type=Number(int, low=5, high=100_000, what="a whole number"),
    default=200,
    show_default=True,
    help="Fresh executions to time, at least 5 (the other cases use a quarter of that).",
)
@click.option("--no-monty", is_flag=True, help="Skip the pydantic-monty baseline.")
@click.option(
    "--otel",
    is_flag=True,
    help="Also measure each backend with OpenTelemetry spans recorded (column NAME+otel).",
)
@click.option(
    "--no-sessions", is_flag=True, help="Skip the sessions' cases (state of 1 KiB to 10 MiB)."
)
@click.option(
    "--no-throughput",
    is_flag=True,
    help="Skip the executions-per-second and memory table.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=writable_destination,
    help="Also write the results as JSON to this file.",
)
@ray_option(
    "Instead: executions/s on a Ray pool of 1, 2, ... actors beside one in-process CodeAct "
    "(Ray started here, or the cluster at ADDRESS)."
)
@handle_errors
def sandbox_command(
    backend_opt: str,
    runs: int,
    no_monty: bool,
    otel: bool,
    no_sessions: bool,
    no_throughput: bool,
    json_path: Path | None,
    ray_address: str | None,
) -> None:
    """Time a fresh execution, a tool call and the order-totals program, next to monty, and
    what a session's state of 1 KiB, 100 KiB and 10 MiB adds to a call."""
    if ray_address is not None:
        from .ray_bench import sandbox_on_ray

        if backend_opt == "all":
            raise UserError("--ray measures one backend; name it with --backend")
        sandbox_on_ray(ray_address, runs=runs, backend=backend_opt, json_path=json_path)
        return
    from ..bench.sandbox_bench import (
        CASES,
        available_backend_names,
        bench_backend,
        bench_monty,
        monty_unavailable_reason,
    )
    from ..bench.session_bench import SESSION_CASES, bench_sessions
    from ..bench.stats import json_file_text, machine_facts, markdown_table
    from ..bench.throughput import load_table, measure_load
    from ..sandbox.registry import backend_names

    if backend_opt == "all":
        names = available_backend_names()
    elif backend_opt in backend_names():
        names = [backend_opt]
    else:
        raise UserError(
            f"unknown backend {backend_opt!r}; choose one of: all, {', '.join(backend_names())}"
        )
    provider = None
    if otel:
        from ..bench.sandbox_bench import recording_tracer_provider

        provider = recording_tracer_provider()
        if provider is None:
            raise UserError(f"--otel needs the OpenTelemetry SDK: {install_hint('otel')}")
    results = []
    traced: list[str] = []
    loads: dict[str, dict[str, object]] = {}
    for name in names:
        click.echo(f"measuring {name} ({runs} fresh runs)...", err=True)
        results += asyncio.run(bench_backend(name, runs))
        if not no_throughput:
            click.echo(f"measuring {name}: throughput and memory...", err=True)
            loads[name] = asyncio.run(measure_load(name, runs))
        if provider is not None:
            click.echo(f"measuring {name} with spans recorded...", err=True)
            results += asyncio.run(
                bench_backend(name, runs, tracer_provider=provider, label=f"{name}+otel")
            )
            traced.append(f"{name}+otel")
        if not no_sessions:
            click.echo(
                f"measuring {name}'s sessions (state of 1 KiB, 100 KiB, 10 MiB)...", err=True
            )
            results += asyncio.run(bench_sessions(name, runs))
    skipped = None if not no_monty else "--no-monty"
    skipped = skipped or monty_unavailable_reason()
    if skipped is None:
        click.echo("measuring monty (the peer baseline)...", err=True)
        results += bench_monty(runs)
    by = {(r.backend, r.case): r for r in results}
    columns = [*names, *traced, *([] if skipped else ["monty"])]
    headers = ["case (ms)"]
    for col in columns:
        headers += [f"{col} p50", f"{col} p90"]
    if not skipped:
        headers += [f"{n}/monty" for n in names]
    headers.append("target")
    rows = []
    session_cases = [] if no_sessions else list(SESSION_CASES)
    for case in [*CASES, *session_cases]:
        row: list[object] = [case + (" (per call)" if case == "call_tool" else "")]
        if case == "session_baseline":
            row[0] = "session_baseline (n = 1, no session)"
        elif case.startswith("session_"):
            row[0] = f"{case} (added per call)"
        for col in columns:
            r = by.get((col, case))
            row += [r.p50_ms if r else None, r.p90_ms if r else None]
        if not skipped:
            monty = by[("monty", case)].p50_ms if ("monty", case) in by else math.nan
            row += [_ratio(by[(n, case)].p50_ms, monty) for n in names]
        row.append(_TARGETS[case])
        rows.append(row)
    facts = machine_facts()
    click.echo(
        f"\n{facts['cpus']} CPUs, Python {facts['python']}, load {facts['load_avg_1m']}; "
        f"{runs} fresh runs per backend; medians (p50) and p90 in milliseconds\n"
    )
    click.echo(markdown_table(headers, rows))
    if loads:
        click.echo("\n" + load_table(loads))
    if skipped:
        click.echo(f"\nmonty baseline skipped: {skipped}")
    if json_path is not None:
        payload = {
            "results": [r.to_dict() for r in results],
            "load": loads,
            "machine": facts,
            "runs": runs,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json_file_text(payload))
        click.echo(f"\nwrote {json_path}", err=True)


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


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else math.nan


def _add_commands() -> None:
    from .bench_m3tooleval_cmd import m3tooleval_command
    from .bench_order_totals_cmd import order_totals_command

    bench_group.add_command(order_totals_command)
    bench_group.add_command(m3tooleval_command)


_add_commands()
