"""`codeact doctor`: which sandbox backends work here, how strong each is, and how fast.

For every registered backend: whether it is available (and if not, why), its isolation level,
the versions it runs on, and the median wall time of a fresh execution of ``print(1)``,
measured by running it. ``--json`` prints the same as a list of objects.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import click

from ..errors import CodeActError
from ..policy.limits import Limits
from ..runtime.codeact import CodeAct
from ..sandbox.registry import (
    AUTO_ORDER,
    backend_availability,
    backend_class,
    backend_names,
    create_backend,
)
from .common import handle_errors
from .params import Number

__all__ = ["doctor_command", "inspect_backends"]

_RUNS = 7
_WARMUP = 3
#: Untimed pause between runs, as model turns separate executions in an agent: pools refill.
_PACE = 0.02


def _measure(name: str, runs: int) -> float:
    """Median milliseconds of a fresh execution of print(1), after a few warm-up runs."""

    async def measure() -> list[float]:
        backend = create_backend(name)
        try:
            await asyncio.to_thread(backend.prepare)
            codeact = CodeAct(backend=backend, limits=Limits(wall_time=30))
            times = []
            for i in range(runs + _WARMUP):
                await asyncio.sleep(_PACE)
                started = time.perf_counter()
                result = await codeact.execute("print(1)")
                elapsed = (time.perf_counter() - started) * 1000
                if not result.ok or result.stdout != "1\n":
                    raise CodeActError(f"print(1) did not run correctly: {result.to_model_text()}")
                if i >= _WARMUP:
                    times.append(elapsed)
            return times
        finally:
            await backend.aclose()

    return statistics.median(asyncio.run(measure()))


def inspect_backends(*, runs: int = _RUNS) -> list[dict[str, Any]]:
    """One report per registered backend, in the order `auto` tries them."""
    names = [n for n in AUTO_ORDER if n in backend_names()]
    names += [n for n in backend_names() if n not in names]
    reports: list[dict[str, Any]] = []
    auto_chosen = False
    for name in names:
        availability = backend_availability(name)
        try:
            isolation: str | None = backend_class(name).isolation
        except CodeActError:
            isolation = None
        report: dict[str, Any] = {
            "backend": name,
            "available": availability.available,
            "reason": availability.reason,
            "isolation": isolation,
            "fresh_exec_ms": None,
            "versions": dict(availability.versions),
            "auto": False,
        }
        if availability.available and runs > 0:
            try:
                report["fresh_exec_ms"] = round(_measure(name, runs), 2)
            except Exception as exc:
                report["available"] = False
                report["reason"] = f"it is installed but failed to run a program: {exc}"
        if report["available"] and not auto_chosen and name in AUTO_ORDER:
            report["auto"] = auto_chosen = True
        reports.append(report)
    return reports


def _table(reports: list[dict[str, Any]]) -> str:
    header = ("backend", "available", "isolation", "fresh exec", "versions")
    rows = []
    for r in reports:
        ms = r["fresh_exec_ms"]
        rows.append(
            (
                r["backend"] + (" (auto)" if r["auto"] else ""),
                "yes" if r["available"] else "no",
                r["isolation"] or "?",
                f"{ms:.1f} ms" if ms is not None else "-",
                ", ".join(f"{k} {v}" for k, v in r["versions"].items()) or "-",
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.append("")
    for r in reports:
        if r["reason"]:
            lines.append(f"{r['backend']}: {r['reason']}")
    return "\n".join(lines)


def _packages_section() -> str:
    """What `codeact sandbox packages add` / `CodeAct(packages=...)` installed, if anything."""
    from ..sandbox.packages import cached_grants
    from .packages_cmd import describe_cached

    grants = cached_grants()
    if not grants:
        return "packages: none installed (CodeAct(packages=[...]) or codeact sandbox packages add)"
    return "\n".join(["packages installed for sandboxes:", *map(describe_cached, grants)])


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option(
    "--runs",
    type=Number(int, low=0, high=1000, what="a whole number"),
    default=_RUNS,
    show_default=True,
    help="Fresh executions timed per backend (0: do not run anything).",
)
@handle_errors
def doctor_command(as_json: bool, runs: int) -> None:
    """Check every sandbox backend: available or not and why, isolation, versions, speed."""
    reports = inspect_backends(runs=runs)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        click.echo(_table(reports))
        click.echo(_packages_section())
    if not any(r["available"] for r in reports):
        raise SystemExit(1)
