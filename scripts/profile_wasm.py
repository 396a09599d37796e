#!/usr/bin/env python3
"""Run one of the sandbox bench's cases on wasm in a loop, for a sampling profiler to watch.

    py-spy record -r 1000 --threads -f flamegraph -o docs/profiles/tool-calls.svg -- \\
        .venv/bin/python scripts/profile_wasm.py tool-calls

Cases: ``fresh`` (print(1), 1000 runs), ``tool-calls`` (a program of 400 echo calls, 200
runs), ``order-totals`` (the order-totals program, 400 runs). Executions are 10 ms apart, as
in `codeact bench sandbox`. Prints the p50 it measured (the profiler slows it down).
py-spy is not a dependency of the project: ``pip install py-spy`` where you run this.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from codeact import CodeAct, Limits
from codeact.bench.sandbox_bench import echo
from codeact.workloads import order_totals

CASES = {
    "fresh": ("print(1)", 1000, 1),
    "tool-calls": ("for i in range(400):\n    echo(i=i)\n", 200, 400),
    "order-totals": (order_totals.PROGRAM, 400, 1),
}


async def main(case: str) -> None:
    code, runs, per = CASES[case]
    codeact = CodeAct(
        tools=[echo, *order_totals.TOOLS], backend="wasm", limits=Limits(tool_calls=1000)
    )
    await codeact.prepare()
    for _ in range(10):
        await codeact.execute("print(1)")
    samples = []
    for _ in range(runs):
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        result = await codeact.execute(code)
        samples.append((time.perf_counter() - started) * 1000 / per)
        if not result.ok:
            raise SystemExit(f"the {case} program failed: {result.error}")
    what = "per call" if per > 1 else "per execution"
    print(f"{case}: p50 {statistics.median(samples):.4f} ms {what}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=sorted(CASES))
    asyncio.run(main(parser.parse_args().case))
