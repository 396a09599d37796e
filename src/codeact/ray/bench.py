"""`codeact bench sandbox --ray`: executions per second on a Ray pool, beside one in-process
CodeAct running the same programs at the same concurrency.

For each program (``print(1)`` and the order-totals program) it measures:

* in-process: one `CodeAct` running `runs` programs, `max_concurrency` at a time
  (what one actor does), and the p50 of one program at a time;
* on the pool, for 1, 2, 4, ... actors (up to the cluster's CPUs): `runs` programs through
  `CodeActPool.map`, and, on one actor, the p50 of one program at a time. The difference
  of the two p50s is what Ray adds to one execution (the call to the actor, pickling the
  program and its result).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from .. import CodeAct
from ..bench.stats import percentile
from ..workloads import order_totals
from .pool import CodeActPool, cluster_cpus

__all__ = ["PROGRAMS", "ThroughputResult", "actor_counts", "bench_ray_sandbox"]

PROGRAMS: dict[str, str] = {"print(1)": "print(1)", "order_totals": order_totals.PROGRAM}
TOOLS_REFERENCE = "codeact.workloads.order_totals:TOOLS"


@dataclass(frozen=True)
class ThroughputResult:
    """One measurement: `where` is "in-process" or "ray" (with `actors`)."""

    program: str
    where: str
    actors: int
    executions_per_s: float
    p50_ms: float | None
    runs: int

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def actor_counts(cpus: float) -> list[int]:
    """1, 2, 4, ... actors, as many as the cluster has CPUs for (at least 1 and 2)."""
    counts, n = [1, 2], 4
    while n <= cpus:
        counts.append(n)
        n *= 2
    return counts


async def bench_ray_sandbox(
    *,
    runs: int,
    max_concurrency: int = 4,
    backend: str = "wasm",
    counts: list[int] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> list[ThroughputResult]:
    """In-process first, then the pool at each actor count (Ray must be initialized)."""
    latency_runs = max(10, runs // 10)
    results: list[ThroughputResult] = []
    progress(f"in-process CodeAct ({backend}), {max_concurrency} at a time")
    codeact = CodeAct(tools=order_totals.TOOLS, backend=backend)
    await asyncio.to_thread(codeact.prepare)
    for name, code in PROGRAMS.items():
        await _in_process_throughput(codeact, code, 10, max_concurrency)  # warm up
        rate = await _in_process_throughput(codeact, code, runs, max_concurrency)
        p50: float | None = await _latency(functools.partial(codeact.execute, code), latency_runs)
        results.append(ThroughputResult(name, "in-process", 0, rate, p50, runs))
    for n in counts or actor_counts(cluster_cpus()):
        progress(f"Ray pool of {n} actor(s), {max_concurrency} programs each at a time")
        async with CodeActPool(
            tools=[TOOLS_REFERENCE], num_actors=n, max_concurrency=max_concurrency, backend=backend
        ) as pool:
            for name, code in PROGRAMS.items():
                await pool.map([code] * (2 * n * max_concurrency))  # warm up every actor
                started = time.perf_counter()
                out = await pool.map([code] * runs)
                rate = runs / (time.perf_counter() - started)
                failed = [r.error for r in out if not r.ok]
                if failed:
                    raise RuntimeError(f"benchmark program {name} failed on Ray: {failed[0]}")
                p50 = None
                if n == 1:
                    p50 = await _latency(functools.partial(pool.execute, code), latency_runs)
                results.append(ThroughputResult(name, "ray", n, rate, p50, runs))
    return results


async def _in_process_throughput(codeact: CodeAct, code: str, runs: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            result = await codeact.execute(code)
        if not result.ok:
            raise RuntimeError(f"benchmark program failed in process: {result.error}")

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(runs)))
    return runs / (time.perf_counter() - started)


async def _latency(run: Callable[[], Awaitable[Any]], n: int) -> float:
    samples = []
    for _ in range(n):
        await asyncio.sleep(0.01)  # as model turns separate executions: pools refill
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50)


def table_rows(results: list[ThroughputResult]) -> tuple[list[str], list[list[object]]]:
    """Headers and rows: one row per program, executions/s per column, the scaling ratios
    against one actor, and the p50s with Ray's added milliseconds."""
    counts = sorted({r.actors for r in results if r.where == "ray"})
    headers = ["program", "in-process exec/s"]
    headers += [f"{n} actor{'s' * (n > 1)} exec/s" for n in counts]
    headers += [f"{n}/1 actors" for n in counts if n > 1]
    headers += ["in-process p50 ms", "1 actor p50 ms", "Ray adds ms"]
    rows: list[list[object]] = []
    for name in PROGRAMS:
        mine = [r for r in results if r.program == name]
        local = next((r for r in mine if r.where == "in-process"), None)
        ray_by = {r.actors: r for r in mine if r.where == "ray"}
        one = ray_by.get(1)
        row: list[object] = [name, local.executions_per_s if local else None]
        row += [ray_by[n].executions_per_s if n in ray_by else None for n in counts]
        row += [
            ray_by[n].executions_per_s / one.executions_per_s if one and n in ray_by else None
            for n in counts
            if n > 1
        ]
        local_p50 = local.p50_ms if local else None
        one_p50 = one.p50_ms if one else None
        added = one_p50 - local_p50 if one_p50 is not None and local_p50 is not None else None
        row += [local_p50, one_p50, added]
        rows.append(row)
    return headers, rows
