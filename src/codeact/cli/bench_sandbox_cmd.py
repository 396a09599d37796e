"""`codeact bench sandbox`: a fresh execution, a tool call and the order-totals program on
each backend next to monty, the sessions' cost, and throughput and memory.

Each case is kept as it is measured: Ctrl-C prints the table of those measured (the others
empty) and writes them to ``--json`` with ``"interrupted": true``, then exits 130.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._extras import install_hint
from ..errors import UserError
from .common import handle_errors, writable_destination
from .params import Number
from .ray_bench import ray_option

if TYPE_CHECKING:
    from ..bench.sandbox_bench import CaseResult

__all__ = ["sandbox_command"]

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


@click.command("sandbox")
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
    what a session's state of 1 KiB, 100 KiB and 10 MiB adds to a call. Ctrl-C keeps the
    cases measured so far (table and JSON), then exits 130."""
    if ray_address is not None:
        from .ray_bench import sandbox_on_ray

        if backend_opt == "all":
            raise UserError("--ray measures one backend; name it with --backend")
        sandbox_on_ray(ray_address, runs=runs, backend=backend_opt, json_path=json_path)
        return
    from ..bench.sandbox_bench import available_backend_names
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
    run = _Run(names, runs, no_sessions=no_sessions)
    try:
        run.measure(provider, throughput=not no_throughput, monty=not no_monty)
    except KeyboardInterrupt:
        if run.results or run.loads:  # the cases measured are kept: table and JSON, then 130
            run.report(json_path, interrupted=True)
        raise
    run.report(json_path, interrupted=False)


class _Run:
    """The cases measured so far (each appended as it ends) and how to show them."""

    def __init__(self, names: list[str], runs: int, *, no_sessions: bool) -> None:
        self.names, self.runs, self.no_sessions = names, runs, no_sessions
        self.results: list[CaseResult] = []
        self.traced: list[str] = []
        self.loads: dict[str, dict[str, object]] = {}
        self.skipped: str | None = "interrupted before it"

    def measure(self, provider: Any, *, throughput: bool, monty: bool) -> None:
        from ..bench.sandbox_bench import bench_backend, bench_monty, monty_unavailable_reason
        from ..bench.session_bench import bench_sessions
        from ..bench.throughput import measure_load

        runs = self.runs
        for name in self.names:
            click.echo(f"measuring {name} ({runs} fresh runs)...", err=True)
            asyncio.run(bench_backend(name, runs, self.results))
            if throughput:
                click.echo(f"measuring {name}: throughput and memory...", err=True)
                self.loads[name] = asyncio.run(measure_load(name, runs))
            if provider is not None:
                click.echo(f"measuring {name} with spans recorded...", err=True)
                self.traced.append(f"{name}+otel")
                asyncio.run(
                    bench_backend(
                        name, runs, self.results, tracer_provider=provider, label=f"{name}+otel"
                    )
                )
            if not self.no_sessions:
                click.echo(
                    f"measuring {name}'s sessions (state of 1 KiB, 100 KiB, 10 MiB)...", err=True
                )
                asyncio.run(bench_sessions(name, runs, self.results))
        self.skipped = None if monty else "--no-monty"
        self.skipped = self.skipped or monty_unavailable_reason()
        if self.skipped is None:
            click.echo("measuring monty (the peer baseline)...", err=True)
            self.results += bench_monty(runs)

    def report(self, json_path: Path | None, *, interrupted: bool) -> None:
        from ..bench.sandbox_bench import CASES
        from ..bench.session_bench import SESSION_CASES
        from ..bench.stats import json_file_text, machine_facts, markdown_table
        from ..bench.throughput import load_table

        by = {(r.backend, r.case): r for r in self.results}
        names = self.names
        columns = [*names, *self.traced, *([] if self.skipped else ["monty"])]
        headers = ["case (ms)"]
        for col in columns:
            headers += [f"{col} p50", f"{col} p90"]
        if not self.skipped:
            headers += [f"{n}/monty" for n in names]
        headers.append("target")
        rows = []
        for case in [*CASES, *([] if self.no_sessions else SESSION_CASES)]:
            row: list[object] = [case + (" (per call)" if case == "call_tool" else "")]
            if case == "session_baseline":
                row[0] = "session_baseline (n = 1, no session)"
            elif case.startswith("session_"):
                row[0] = f"{case} (added per call)"
            for col in columns:
                r = by.get((col, case))
                row += [r.p50_ms if r else None, r.p90_ms if r else None]
            if not self.skipped:
                monty = _p50(by.get(("monty", case)))
                row += [_ratio(_p50(by.get((n, case))), monty) for n in names]
            row.append(_TARGETS[case])
            rows.append(row)
        facts = machine_facts()
        click.echo(
            f"\n{facts['cpus']} CPUs, Python {facts['python']}, load {facts['load_avg_1m']}; "
            f"{self.runs} fresh runs per backend; medians (p50) and p90 in milliseconds"
            + ("; interrupted: the cases not measured are empty" if interrupted else "")
            + "\n"
        )
        click.echo(markdown_table(headers, rows))
        if self.loads:
            click.echo("\n" + load_table(self.loads))
        if self.skipped:
            click.echo(f"\nmonty baseline skipped: {self.skipped}")
        if json_path is not None:
            payload = {
                "results": [r.to_dict() for r in self.results],
                "load": self.loads,
                "machine": facts,
                "runs": self.runs,
                "interrupted": interrupted,
            }
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json_file_text(payload))
            click.echo(f"\nwrote {json_path}", err=True)


def _p50(result: CaseResult | None) -> float:
    return result.p50_ms if result is not None else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) and not math.isnan(a) else math.nan
