#!/usr/bin/env python3
"""Per-call cost of `call_tool` through `CodeAct.execute` on the wasm backend (prints a table).

    .venv/bin/python scripts/bench_call_tool.py [--calls 1000] [--repeat 5]

Each row runs one program that makes N calls of a trivial sync tool and reports the median
over the repeats of (run time with N calls - run time of the same loop with no calls) / N.
Rows: no middleware (the inline fast path), middlewares that skip the call or run
synchronously (still inline), an async middleware (every call hops to the event loop), and a
gated tool approved by a handler that answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from typing import Any

from codeact import CodeAct, Limits, tool


@tool
def echo(x: int) -> int:
    """Return x."""
    return x


@tool(approval_mode="always_require")
def echo_gated(x: int) -> int:
    """Return x, after approval."""
    return x


CALLS = "for i in range({n}):\n    {fn}(x=i)\n"
EMPTY = "for i in range({n}):\n    i\n"


def _variants() -> list[tuple[str, dict[str, Any], str]]:
    variants: list[tuple[str, dict[str, Any], str]] = [("no middleware", {}, "echo")]
    try:  # the pipeline exists only after issue 5's changes; before them, measure the baseline
        from codeact.calls.middleware import LogCalls, RateLimit
    except ImportError:
        return variants

    async def passthrough(call: Any, call_next: Any) -> Any:
        return await call_next(call)

    async def approve(request: Any) -> bool:
        return True

    import logging

    logging.getLogger("codeact.bench").setLevel(logging.WARNING)
    variants += [
        ("LogCalls, logger quiet", {"middleware": [LogCalls(logger="codeact.bench")]}, "echo"),
        ("RateLimit (a sync middleware)", {"middleware": [RateLimit(10**6, per=60)]}, "echo"),
        ("async user middleware", {"middleware": [passthrough]}, "echo"),
        ("gated tool, handler approves", {"approval_handler": approve}, "echo_gated"),
    ]
    return variants


async def measure(codeact: CodeAct, fn: str, n: int, repeat: int) -> float:
    per_call: list[float] = []
    for _ in range(repeat):
        with_calls = await codeact.execute(CALLS.format(n=n, fn=fn))
        assert with_calls.ok, with_calls.error
        assert len(with_calls.tool_calls) == n
        empty = await codeact.execute(EMPTY.format(n=n))
        per_call.append((with_calls.timings["run_ms"] - empty.timings["run_ms"]) / n)
    return statistics.median(per_call)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    limits = Limits(wall_time=120, tool_calls=args.calls + 10)
    rows = []
    for label, options, fn in _variants():
        codeact = CodeAct(tools=[echo, echo_gated], limits=limits, backend="wasm", **options)
        await codeact.prepare()
        await codeact.execute("1")  # warm
        rows.append((label, await measure(codeact, fn, args.calls, args.repeat)))
    print(f"{'variant':<32} {'ms per call_tool round trip':>28}")
    for label, ms in rows:
        print(f"{label:<32} {ms:>28.4f}")
    print(f"({args.calls} calls per program, median of {args.repeat} runs, {sys.platform})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
