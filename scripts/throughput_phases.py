#!/usr/bin/env python3
"""Where the time of wasm executions back to back goes, with 1 and 2 callers (a markdown table).

    .venv/bin/python scripts/throughput_phases.py [--runs 400] [--rounds 2] [--order-totals]

`print(1)` (or the order-totals program, 36 tool calls) through one `CodeAct`, each caller
awaiting `execute` back to back, as in
`codeact bench sandbox`'s throughput rows. Wrappers this script puts around the backend's
functions add up, per execution, the time spent in each (on whichever thread ran it):

* guest call: the guest's `run` export (CPython in the instance);
* instance made by the caller: `instantiate` on the caller's thread (the pool was empty), of
  it waiting in `SlotTracker.taken` for a copy under way;
* close / copy-in: the pool's thread resetting a used instance's slot, and copying the
  learned pages into the free slots (`MADV_POPULATE_WRITE`), both under the tracker's lock;
* lock held: that lock's share of the wall time (1.0: every instance waits for it).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import threading
import time
from collections.abc import Callable
from typing import Any

from codeact import CodeAct
from codeact.sandbox.wasm import backend as wasm_backend
from codeact.sandbox.wasm import prefault
from codeact.sandbox.wasm.runtime import WasmRuntime
from codeact.workloads import order_totals

_totals: collections.defaultdict[str, float] = collections.defaultdict(float)
_lock = threading.Lock()


def _timed(key: str, fn: Callable[..., Any], *, callers_only: bool = False) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if not callers_only or threading.current_thread().name.startswith("codeact-wasm"):
                with _lock:
                    _totals[key] += time.perf_counter() - started
                    _totals[key + " (count)"] += 1

    return timed


def _instrument() -> None:
    tracker = prefault.SlotTracker
    release = tracker.release

    def timed_release(self: prefault.SlotTracker, close: Callable[[], None]) -> None:
        _timed("lock held", release)(self, _timed("close", close))

    setattr(tracker, "release", timed_release)  # noqa: B010
    setattr(tracker, "_refill", _timed("copy-in", tracker._refill))  # noqa: B010
    setattr(tracker, "taken", _timed("waiting for a copy", tracker.taken, callers_only=True))  # noqa: B010
    made = _timed(
        "instance made by the caller", WasmRuntime.instantiate_with_output, callers_only=True
    )
    setattr(WasmRuntime, "instantiate_with_output", made)  # noqa: B010
    call = getattr(wasm_backend, "call_string_export")  # noqa: B009
    setattr(wasm_backend, "call_string_export", _timed("guest call", call))  # noqa: B010


ROWS = ("guest call", "instance made by the caller", "waiting for a copy", "close", "copy-in")


async def _round(codeact: CodeAct, code: str, callers: int, runs: int) -> dict[str, float]:
    async def caller() -> None:
        for _ in range(runs):
            result = await codeact.execute(code)
            if not result.ok:
                raise SystemExit(f"the program failed: {result.error}")

    await asyncio.sleep(0.5)  # the pool full again
    _totals.clear()
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    wall = time.perf_counter() - started
    executions = callers * runs
    row = {key: _totals[key] * 1000 / executions for key in ROWS}
    row["executions/s"] = executions / wall
    row["instances made by callers (%)"] = (
        100 * _totals["instance made by the caller (count)"] / executions
    )
    row["lock held (share of wall time)"] = _totals["lock held"] / wall
    return row


async def main(runs: int, rounds: int, code: str) -> None:
    _instrument()
    codeact = CodeAct(backend="wasm", tools=order_totals.TOOLS)
    await codeact.prepare()
    for _ in range(20):
        await codeact.execute("print(1)")
    columns: list[tuple[str, dict[str, float]]] = []
    for index in range(rounds):
        for callers in (1, 2):
            columns.append((f"{callers} caller{'s' * (callers > 1)} #{index + 1}", {}))
            columns[-1][1].update(await _round(codeact, code, callers, runs))
    name = "print(1)" if code == "print(1)" else "the order-totals program"
    print(f"{name} back to back, {runs} executions per caller; ms per execution unless named\n")
    print("| | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for key in columns[0][1]:
        values = " | ".join(f"{values[key]:.3f}" for _, values in columns)
        print(f"| {key} | {values} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=400, help="executions per caller")
    parser.add_argument("--rounds", type=int, default=2, help="1- and 2-caller rounds")
    parser.add_argument(
        "--order-totals", action="store_true", help="the order-totals program, not print(1)"
    )
    args = parser.parse_args()
    asyncio.run(
        main(args.runs, args.rounds, order_totals.PROGRAM if args.order_totals else "print(1)")
    )
