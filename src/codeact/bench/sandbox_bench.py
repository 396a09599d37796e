"""`codeact bench sandbox`: what one execution costs, next to pydantic-monty as the peer.

Three cases, each through the public API as a user would call it (`CodeAct.execute` for our
backends; a pool checkout + `feed_run` for monty):

* ``fresh``: a fresh sandbox running ``print(1)``;
* ``call_tool``: a program making 40 tool calls; reported *per call*, as the difference to the
  same loop without calls, divided by 40;
* ``order_totals``: the order-totals program over the workload's five tools.

Between runs the harness waits `PACE` seconds (not timed), as model turns separate
executions in an agent; that lets the backend's pool refill, which is the case the targets
name ("with the pool warm").
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from .._extras import install_hint
from ..runtime import CodeAct
from ..sandbox.registry import backend_availability, backend_names
from ..tools import tool
from ..workloads import order_totals
from .stats import percentile

__all__ = ["CASES", "CaseResult", "bench_backend", "bench_monty", "monty_unavailable_reason"]

CASES = ("fresh", "call_tool", "order_totals")
CALLS = 40
PACE = 0.01
_CALLS_PROGRAM = f"for i in range({CALLS}):\n    echo(i=i)\n"
_BASELINE_PROGRAM = f"for i in range({CALLS}):\n    pass\n"


@tool
def echo(i: int) -> int:
    """Return i (a tool that costs nothing itself)."""
    return i


@dataclass(frozen=True)
class CaseResult:
    backend: str
    case: str
    p50_ms: float
    p90_ms: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _result(backend: str, case: str, samples_ms: list[float]) -> CaseResult:
    return CaseResult(
        backend, case, percentile(samples_ms, 50), percentile(samples_ms, 90), len(samples_ms)
    )


async def _timed(n: int, run: Callable[[], Awaitable[Any]]) -> list[float]:
    samples = []
    for _ in range(n):
        await asyncio.sleep(PACE)
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def bench_backend(
    name: str,
    runs: int,
    into: list[CaseResult],
    *,
    tracer_provider: Any = None,
    label: str | None = None,
) -> None:
    """The three cases on backend `name`, each appended to `into` as it is measured (an
    interrupt keeps them); `runs` executions of the fresh case (a quarter of that for the
    others, which take longer). With `tracer_provider`, every execution and call makes spans
    (the cost of tracing); `label` names the column (default: `name`)."""
    codeact = CodeAct(
        tools=[echo, *order_totals.TOOLS], backend=name, tracer_provider=tracer_provider
    )
    await codeact.prepare()
    for _ in range(10):  # let pools, caches and the ticker settle
        await codeact.execute("print(1)")
        await asyncio.sleep(PACE)

    async def check(code: str) -> None:
        result = await codeact.execute(code)
        if not result.ok:
            raise RuntimeError(f"benchmark program failed on {name}: {result.error}")

    column = label or name
    into.append(_result(column, "fresh", await _timed(runs, lambda: check("print(1)"))))
    few = max(5, runs // 4)
    baseline = statistics.median(await _timed(few, lambda: check(_BASELINE_PROGRAM)))
    calls = await _timed(few, lambda: check(_CALLS_PROGRAM))
    into.append(_result(column, "call_tool", [(t - baseline) / CALLS for t in calls]))
    into.append(
        _result(column, "order_totals", await _timed(few, lambda: check(order_totals.PROGRAM)))
    )


def recording_tracer_provider() -> Any:
    """An OpenTelemetry SDK provider that records every span and drops it: what tracing
    costs in a process that exports spans, without the exporter's own cost."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
        from opentelemetry.sdk.trace.export import SpanExportResult as Result
    except ImportError:
        return None

    class _Drop(SpanExporter):
        def export(self, spans: Any) -> Any:
            return Result.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    return provider


def monty_unavailable_reason() -> str | None:
    try:
        import pydantic_monty  # noqa: F401
    except ImportError:
        return f"pydantic-monty is not installed ({install_hint('bench')})"
    return None


def bench_monty(runs: int) -> list[CaseResult]:
    """The same three cases on pydantic-monty (a pool of worker processes), same programs."""
    import pydantic_monty as pm

    lookup: dict[str, Any] = {"echo": echo.fn, **{t.name: t.fn for t in order_totals.TOOLS}}
    with pm.Monty(min_processes=1) as pool:

        def run(code: str) -> float:
            time.sleep(PACE)
            started = time.perf_counter()
            with pool.checkout() as session:
                session.feed_run(code, external_lookup=lookup, print_callback=pm.CollectString())
            return (time.perf_counter() - started) * 1000

        for _ in range(10):
            run("print(1)")
        fresh = [run("print(1)") for _ in range(runs)]
        few = max(5, runs // 4)
        baseline = statistics.median(run(_BASELINE_PROGRAM) for _ in range(few))
        per_call = [(run(_CALLS_PROGRAM) - baseline) / CALLS for _ in range(few)]
        totals = [run(order_totals.PROGRAM) for _ in range(few)]
    return [
        _result("monty", "fresh", fresh),
        _result("monty", "call_tool", per_call),
        _result("monty", "order_totals", totals),
    ]


def available_backend_names() -> list[str]:
    return [n for n in backend_names() if backend_availability(n).available]
