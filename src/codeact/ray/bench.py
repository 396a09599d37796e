"""`codeact bench sandbox --ray`: executions per second on a Ray pool, beside one in-process
CodeAct running the same programs at the same concurrency.

For each program (``print(1)`` and the order-totals program) it measures:

* in-process: one `CodeAct` running `runs` programs, `max_concurrency` at a time
  (what one actor does), and the p50 of one program at a time;
* on the pool, for 1, 2, 4, ... actors (up to the cluster's CPUs): `runs` programs through
  `CodeActPool.map`, and the p50 of one program at a time.

Each also gets the CPU time per execution, all processes together. One actor against in
process is what Ray adds to one execution (the call to the actor, pickling the program and
its result): in latency and in CPU. CPU time is the figure to trust on a busy machine,
where executions/s measure the share of the cores the benchmark got ("cores busy": CPU
time per execution times executions per second).
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
from ..bench.throughput import child_processes
from ..workloads import order_totals
from .pool import CodeActPool
from .pool_options import cluster_cpus
from .worker import ActorInfo, cpu_seconds

__all__ = [
    "HEADERS",
    "PROGRAMS",
    "ThroughputResult",
    "actor_counts",
    "bench_ray_sandbox",
    "ray_overhead",
    "table_rows",
]

PROGRAMS: dict[str, str] = {"print(1)": "print(1)", "order_totals": order_totals.PROGRAM}
TOOLS_REFERENCE = "codeact.workloads.order_totals:TOOLS"


@dataclass(frozen=True)
class ThroughputResult:
    """One measurement: `where` is "in-process" or "ray" (with `actors`).

    `cpu_ms` is the CPU time one execution cost, all processes together (this one, and the
    actors for "ray"), from the CPU clocks of the processes: unlike executions/s it hardly
    depends on what else the machine runs. `driver_cpu_ms` is this process's part of it.
    """

    program: str
    where: str
    actors: int
    executions_per_s: float
    p50_ms: float
    cpu_ms: float
    driver_cpu_ms: float
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
    ray_own = child_processes()  # a Ray started here: its processes (actors too) are not ours
    results: list[ThroughputResult] = []
    progress(f"in-process CodeAct ({backend}), {max_concurrency} at a time")
    codeact = CodeAct(tools=order_totals.TOOLS, backend=backend)
    await codeact.prepare()
    for name, code in PROGRAMS.items():
        await _in_process_throughput(codeact, code, 10, max_concurrency)  # warm up
        cpu = cpu_seconds(ray_own)  # with the sandboxes' processes (jail)
        rate = await _in_process_throughput(codeact, code, runs, max_concurrency)
        cpu_ms = (cpu_seconds(ray_own) - cpu) * 1000 / runs
        p50 = await _latency(functools.partial(codeact.execute, code), latency_runs)
        results.append(ThroughputResult(name, "in-process", 0, rate, p50, cpu_ms, cpu_ms, runs))
    for n in counts or actor_counts(cluster_cpus()):
        progress(f"Ray pool of {n} actor(s), {max_concurrency} programs each at a time")
        async with CodeActPool(
            tools=[TOOLS_REFERENCE], num_actors=n, max_concurrency=max_concurrency, backend=backend
        ) as pool:
            for name, code in PROGRAMS.items():
                await pool.map([code] * (2 * n * max_concurrency))  # warm up every actor
                before = await pool.actors()
                cpu = cpu_seconds(ray_own)
                started = time.perf_counter()
                out = await pool.map([code] * runs)
                rate = runs / (time.perf_counter() - started)
                driver_ms = (cpu_seconds(ray_own) - cpu) * 1000 / runs
                after = await pool.actors()
                failed = [r.error for r in out if not r.ok]
                if failed:
                    raise RuntimeError(f"benchmark program {name} failed on Ray: {failed[0]}")
                actors_ms = _actors_cpu_s(before, after) * 1000 / runs
                p50 = await _latency(functools.partial(pool.execute, code), latency_runs)
                results.append(
                    ThroughputResult(
                        name, "ray", n, rate, p50, driver_ms + actors_ms, driver_ms, runs
                    )
                )
    return results


def _actors_cpu_s(before: list[ActorInfo], after: list[ActorInfo]) -> float:
    start = {a.pid: a.cpu_s for a in before}
    return sum(a.cpu_s - start[a.pid] for a in after if a.pid in start)


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


HEADERS = [
    "program",
    "runs on",
    "exec/s",
    "x 1 actor",
    "p50 ms (one at a time)",
    "CPU ms/exec (all processes)",
    "of it driver",
    "cores busy",
]


def table_rows(results: list[ThroughputResult]) -> list[list[object]]:
    """One row per program and place, with the scaling against one actor."""
    rows: list[list[object]] = []
    for name in PROGRAMS:
        mine = [r for r in results if r.program == name]
        one = next((r for r in mine if r.where == "ray" and r.actors == 1), None)
        for r in sorted(mine, key=lambda r: r.actors):
            place = (
                "in-process"
                if r.where == "in-process"
                else f"{r.actors} actor" + ("s" if r.actors > 1 else "")
            )
            ratio = r.executions_per_s / one.executions_per_s if one and r.where == "ray" else None
            driver = r.driver_cpu_ms if r.where == "ray" else None
            cores = r.cpu_ms * r.executions_per_s / 1000  # the share of the machine it got
            rows.append([name, place, r.executions_per_s, ratio, r.p50_ms, r.cpu_ms, driver, cores])
    return rows


def ray_overhead(results: list[ThroughputResult]) -> dict[str, dict[str, float]]:
    """Per program: what Ray adds to one execution, one actor against in process
    (``p50_ms``: latency of one program at a time; ``cpu_ms``: CPU time per execution)."""
    added: dict[str, dict[str, float]] = {}
    for name in PROGRAMS:
        local = next((r for r in results if r.program == name and r.where == "in-process"), None)
        one = next((r for r in results if r.program == name and r.actors == 1), None)
        if local is not None and one is not None:
            added[name] = {
                "p50_ms": one.p50_ms - local.p50_ms,
                "cpu_ms": one.cpu_ms - local.cpu_ms,
            }
    return added
